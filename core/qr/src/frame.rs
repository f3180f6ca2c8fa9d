//! Frame input: what cameras and files hand us, validated into an 8-bit luma view.
//!
//! - Android `ImageProxy` plane 0 and iOS `CVPixelBuffer` plane 0 (YUV formats) are already an
//!   8-bit luma plane with a row stride: [`LumaFrame::new`] borrows it without copying.
//! - RGBA / BGRA buffers (screenshots, some camera paths) are converted by [`luma_from_rgba`].
//! - Encoded PNG / JPEG bytes (CLI, tests) are decoded by [`luma_from_encoded`].
//!
//! Every size and stride is checked against the buffer before any pixel is read; nothing here
//! panics on bad input. The camera's rotation is carried as metadata: QR decoding does not care
//! about orientation, so frames are never rotated pixel by pixel; only the reported code corners
//! are mapped to the upright image (see [`Rotation::to_upright`]).

use std::io::Cursor;

/// Largest accepted frame side, in pixels.
pub const MAX_FRAME_SIDE: usize = 8192;
/// Largest accepted frame area, in pixels (a 48 MP sensor).
pub const MAX_FRAME_PIXELS: usize = 48_000_000;
/// Largest accepted encoded image, in bytes.
pub const MAX_ENCODED_BYTES: usize = 64 * 1024 * 1024;

/// Why a frame was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// Width or height is zero.
    #[error("frame has no pixels")]
    Empty,
    /// A side exceeds [`MAX_FRAME_SIDE`] or the area exceeds [`MAX_FRAME_PIXELS`].
    #[error("frame is too large ({width}x{height})")]
    TooLarge {
        /// Width given.
        width: usize,
        /// Height given.
        height: usize,
    },
    /// The row stride is shorter than one row of pixels.
    #[error("row stride {stride} is shorter than a row of {min} bytes")]
    StrideTooSmall {
        /// Stride given.
        stride: usize,
        /// Bytes one row needs.
        min: usize,
    },
    /// The buffer is shorter than the dimensions and stride require.
    #[error("buffer holds {got} bytes, the frame needs {need}")]
    BufferTooSmall {
        /// Bytes needed.
        need: usize,
        /// Bytes given.
        got: usize,
    },
    /// Encoded bytes are neither PNG nor JPEG, or are corrupt.
    #[error("cannot decode the image: {0}")]
    Encoded(String),
}

/// Clockwise rotation that turns the sensor image upright (Android `ImageInfo.rotationDegrees`,
/// iOS from the `AVCaptureConnection` / `CGImagePropertyOrientation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum Rotation {
    /// Already upright.
    #[default]
    Deg0,
    /// Rotate 90° clockwise to display.
    Deg90,
    /// Rotate 180°.
    Deg180,
    /// Rotate 270° clockwise (90° counter-clockwise).
    Deg270,
}

impl Rotation {
    /// From degrees (0, 90, 180, 270, or any multiple of 90, negative allowed).
    pub fn from_degrees(deg: i32) -> Option<Rotation> {
        match deg.rem_euclid(360) {
            0 => Some(Rotation::Deg0),
            90 => Some(Rotation::Deg90),
            180 => Some(Rotation::Deg180),
            270 => Some(Rotation::Deg270),
            _ => None,
        }
    }

    /// Maps a point of a `width`×`height` sensor image to the upright (displayed) image.
    pub fn to_upright(self, x: f32, y: f32, width: usize, height: usize) -> (f32, f32) {
        let (w, h) = (width as f32, height as f32);
        match self {
            Rotation::Deg0 => (x, y),
            Rotation::Deg90 => (h - y, x),
            Rotation::Deg180 => (w - x, h - y),
            Rotation::Deg270 => (y, w - x),
        }
    }

    /// Size of the upright image.
    pub fn upright_size(self, width: usize, height: usize) -> (usize, usize) {
        match self {
            Rotation::Deg0 | Rotation::Deg180 => (width, height),
            Rotation::Deg90 | Rotation::Deg270 => (height, width),
        }
    }
}

fn check_dims(width: usize, height: usize) -> Result<(), FrameError> {
    if width == 0 || height == 0 {
        return Err(FrameError::Empty);
    }
    if width > MAX_FRAME_SIDE || height > MAX_FRAME_SIDE || width * height > MAX_FRAME_PIXELS {
        return Err(FrameError::TooLarge { width, height });
    }
    Ok(())
}

/// Bytes a strided buffer must hold: full rows except the last, which may be unpadded.
/// `usize::MAX` when that overflows (no buffer can be that long).
fn needed_len(row_bytes: usize, stride: usize, height: usize) -> usize {
    stride
        .checked_mul(height.saturating_sub(1))
        .and_then(|n| n.checked_add(row_bytes))
        .unwrap_or(usize::MAX)
}

/// A borrowed 8-bit luma plane (0 = black, 255 = white) with a row stride and the camera rotation.
#[derive(Debug, Clone, Copy)]
pub struct LumaFrame<'a> {
    data: &'a [u8],
    width: usize,
    height: usize,
    stride: usize,
    rotation: Rotation,
}

impl<'a> LumaFrame<'a> {
    /// Wraps a luma plane; `stride` is the distance in bytes between the starts of two rows
    /// (`rowStride` on Android, `bytesPerRowOfPlane` on iOS). The buffer may end right after
    /// the last pixel of the last row.
    pub fn new(
        data: &'a [u8],
        width: usize,
        height: usize,
        stride: usize,
        rotation: Rotation,
    ) -> Result<Self, FrameError> {
        check_dims(width, height)?;
        if stride < width {
            return Err(FrameError::StrideTooSmall { stride, min: width });
        }
        let need = needed_len(width, stride, height);
        if data.len() < need {
            return Err(FrameError::BufferTooSmall {
                need,
                got: data.len(),
            });
        }
        Ok(LumaFrame {
            data,
            width,
            height,
            stride,
            rotation,
        })
    }

    /// A tightly packed plane (`stride == width`), upright.
    pub fn packed(data: &'a [u8], width: usize, height: usize) -> Result<Self, FrameError> {
        Self::new(data, width, height, width, Rotation::Deg0)
    }

    /// Width of the sensor image.
    pub fn width(&self) -> usize {
        self.width
    }
    /// Height of the sensor image.
    pub fn height(&self) -> usize {
        self.height
    }
    /// Row stride in bytes.
    pub fn stride(&self) -> usize {
        self.stride
    }
    /// Rotation to upright.
    pub fn rotation(&self) -> Rotation {
        self.rotation
    }
    /// The same frame with another rotation.
    pub fn with_rotation(self, rotation: Rotation) -> Self {
        LumaFrame { rotation, ..self }
    }

    /// A view of the rectangle `[x0, x0 + w) x [y0, y0 + h)` (clipped to the frame), without
    /// copying; `None` if nothing is left. Rotation is dropped: the crop is in sensor pixels.
    pub(crate) fn crop(&self, x0: usize, y0: usize, w: usize, h: usize) -> Option<LumaFrame<'a>> {
        if x0 >= self.width || y0 >= self.height {
            return None;
        }
        let w = w.min(self.width - x0);
        let h = h.min(self.height - y0);
        if w == 0 || h == 0 {
            return None;
        }
        let start = y0 * self.stride + x0;
        Some(LumaFrame {
            data: &self.data[start..],
            width: w,
            height: h,
            stride: self.stride,
            rotation: Rotation::Deg0,
        })
    }

    /// One row of pixels. `y` must be `< height` (internal callers guarantee it).
    #[inline(always)]
    pub(crate) fn row(&self, y: usize) -> &'a [u8] {
        let start = y * self.stride;
        &self.data[start..start + self.width]
    }

    /// Pixel at `(x, y)`, both in range.
    #[inline(always)]
    pub(crate) fn px(&self, x: usize, y: usize) -> u8 {
        self.data[y * self.stride + x]
    }
}

/// An owned, packed 8-bit luma image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LumaImage {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// `width * height` bytes, row by row.
    pub data: Vec<u8>,
}

impl LumaImage {
    /// Wraps packed pixels, checking the size.
    pub fn new(width: usize, height: usize, data: Vec<u8>) -> Result<Self, FrameError> {
        check_dims(width, height)?;
        if data.len() < width * height {
            return Err(FrameError::BufferTooSmall {
                need: width * height,
                got: data.len(),
            });
        }
        Ok(LumaImage {
            width,
            height,
            data,
        })
    }

    /// A borrowed view of this image (upright).
    pub fn as_frame(&self) -> LumaFrame<'_> {
        LumaFrame {
            data: &self.data,
            width: self.width,
            height: self.height,
            stride: self.width,
            rotation: Rotation::Deg0,
        }
    }
}

/// Channel order of a 32-bit pixel buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PixelOrder {
    /// R, G, B, A bytes (Android `Bitmap.Config.ARGB_8888` memory order, most PNGs).
    Rgba,
    /// B, G, R, A bytes (iOS `kCVPixelFormatType_32BGRA`).
    Bgra,
}

/// Converts a 4-byte-per-pixel buffer to luma (ITU-R BT.601 weights, integer arithmetic).
pub fn luma_from_rgba(
    data: &[u8],
    width: usize,
    height: usize,
    stride: usize,
    order: PixelOrder,
) -> Result<LumaImage, FrameError> {
    check_dims(width, height)?;
    let row_bytes = width * 4; // width <= MAX_FRAME_SIDE: no overflow
    if stride < row_bytes {
        return Err(FrameError::StrideTooSmall {
            stride,
            min: row_bytes,
        });
    }
    let need = needed_len(row_bytes, stride, height);
    if data.len() < need {
        return Err(FrameError::BufferTooSmall {
            need,
            got: data.len(),
        });
    }
    let (ri, bi) = match order {
        PixelOrder::Rgba => (0, 2),
        PixelOrder::Bgra => (2, 0),
    };
    let mut out = Vec::with_capacity(width * height);
    for y in 0..height {
        let row = &data[y * stride..y * stride + row_bytes];
        out.extend(row.chunks_exact(4).map(|p| {
            let (r, g, b) = (p[ri] as u32, p[1] as u32, p[bi] as u32);
            ((77 * r + 150 * g + 29 * b + 128) >> 8) as u8
        }));
    }
    Ok(LumaImage {
        width,
        height,
        data: out,
    })
}

/// Decodes PNG or JPEG bytes to luma, refusing images larger than the frame limits before
/// decoding their pixels.
pub fn luma_from_encoded(bytes: &[u8]) -> Result<LumaImage, FrameError> {
    if bytes.len() > MAX_ENCODED_BYTES {
        return Err(FrameError::Encoded("file too large".into()));
    }
    let mut reader = image::ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| FrameError::Encoded(e.to_string()))?;
    match reader.format() {
        Some(image::ImageFormat::Png) | Some(image::ImageFormat::Jpeg) => {}
        _ => return Err(FrameError::Encoded("not a PNG or JPEG image".into())),
    }
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_FRAME_SIDE as u32);
    limits.max_image_height = Some(MAX_FRAME_SIDE as u32);
    limits.max_alloc = Some((MAX_FRAME_PIXELS as u64) * 8);
    reader.limits(limits);
    let img = reader
        .decode()
        .map_err(|e| FrameError::Encoded(e.to_string()))?;
    let luma = img.into_luma8();
    let (w, h) = (luma.width() as usize, luma.height() as usize);
    LumaImage::new(w, h, luma.into_raw())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_geometry() {
        let buf = vec![0u8; 100];
        assert_eq!(
            LumaFrame::new(&buf, 0, 10, 10, Rotation::Deg0).unwrap_err(),
            FrameError::Empty
        );
        assert!(matches!(
            LumaFrame::new(&buf, 10, 10, 9, Rotation::Deg0),
            Err(FrameError::StrideTooSmall { .. })
        ));
        assert!(matches!(
            LumaFrame::new(&buf, 10, 11, 10, Rotation::Deg0),
            Err(FrameError::BufferTooSmall { .. })
        ));
        assert!(matches!(
            LumaFrame::new(&buf, 100_000, 1, 100_000, Rotation::Deg0),
            Err(FrameError::TooLarge { .. })
        ));
        // Huge claimed sizes never overflow or allocate.
        assert!(LumaFrame::new(&buf, usize::MAX, usize::MAX, usize::MAX, Rotation::Deg0).is_err());
        assert!(luma_from_rgba(&buf, usize::MAX / 2, 3, usize::MAX, PixelOrder::Rgba).is_err());
        // Last row may be unpadded.
        assert!(LumaFrame::new(&buf, 10, 10, 10, Rotation::Deg0).is_ok());
        let buf2 = vec![0u8; 16 * 3 + 10];
        assert!(LumaFrame::new(&buf2, 10, 4, 16, Rotation::Deg0).is_ok());
    }

    #[test]
    fn rgba_and_bgra_agree() {
        let rgba = [255u8, 0, 0, 255, 0, 0, 255, 255];
        let bgra = [0u8, 0, 255, 255, 255, 0, 0, 255];
        let a = luma_from_rgba(&rgba, 2, 1, 8, PixelOrder::Rgba).unwrap();
        let b = luma_from_rgba(&bgra, 2, 1, 8, PixelOrder::Bgra).unwrap();
        assert_eq!(a, b);
        assert!(a.data[0] > a.data[1]); // red is brighter than blue in luma
    }

    #[test]
    fn encoded_garbage_is_an_error() {
        assert!(luma_from_encoded(b"not an image").is_err());
        assert!(luma_from_encoded(&[0x89, b'P', b'N', b'G', 0, 0]).is_err());
        assert!(luma_from_encoded(&[0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3]).is_err());
    }

    #[test]
    fn rotation_maps_corners() {
        // A 4x2 sensor image rotated 90° cw is 2x4; sensor (0,0) goes to upright (2,0).
        assert_eq!(Rotation::Deg90.to_upright(0.0, 0.0, 4, 2), (2.0, 0.0));
        assert_eq!(Rotation::Deg90.upright_size(4, 2), (2, 4));
        assert_eq!(Rotation::Deg180.to_upright(0.0, 0.0, 4, 2), (4.0, 2.0));
        assert_eq!(Rotation::Deg270.to_upright(0.0, 0.0, 4, 2), (0.0, 4.0));
        assert_eq!(Rotation::from_degrees(-90), Some(Rotation::Deg270));
        assert_eq!(Rotation::from_degrees(45), None);
    }
}
