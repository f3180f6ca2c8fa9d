//! Hand-made screens for the scanner's tests: codes drawn where a test wants them, a code
//! whose data is wiped, and the shake and defocus of a hand-held phone between frames.

use crate::frame::LumaImage;

/// A light screen showing each `(text, px per module, top-left)` as a QR code, under a
/// slight defocus (a camera, not a screenshot).
pub fn screen_with_codes(w: usize, h: usize, codes: &[(&str, usize, (usize, usize))]) -> LumaImage {
    defocused(&sharp_screen(w, h, codes), 1)
}

/// [`screen_with_codes`] without the defocus: grey 225, modules 30, edges exact.
pub fn sharp_screen(w: usize, h: usize, codes: &[(&str, usize, (usize, usize))]) -> LumaImage {
    let mut data = vec![225u8; w * h];
    for &(text, scale, at) in codes {
        let code = qrcode::QrCode::new(text.as_bytes()).expect("fits");
        let dim = code.width();
        let colors = code.to_colors();
        for y in 0..dim * scale {
            for x in 0..dim * scale {
                if colors[(y / scale) * dim + x / scale] == qrcode::Color::Dark {
                    data[(at.1 + y) * w + at.0 + x] = 30;
                }
            }
        }
    }
    LumaImage::new(w, h, data).expect("valid")
}

/// A 320x320 frame with a clean code whose data area is wiped: finder patterns present,
/// nothing decodable.
pub fn wiped_code_screen() -> LumaImage {
    let code =
        qrcode::QrCode::new(b"https://eu.roger.myq.cloud/pair?v=1&code=BCDF-GHJK").expect("fits");
    let dim = code.width();
    let colors = code.to_colors();
    let scale = 6;
    let (w, h) = (320, 320);
    let mut data = vec![230u8; w * h];
    for y in 0..dim * scale {
        for x in 0..dim * scale {
            let (mx, my) = (x / scale, y / scale);
            let in_finder = (mx < 8 || my < 8)
                && !(mx >= dim - 8 && my >= dim - 8)
                && (mx < 8 || mx >= dim - 8)
                && (my < 8 || my >= dim - 8);
            let dark = if in_finder {
                colors[my * dim + mx] == qrcode::Color::Dark
            } else {
                (mx + my) % 3 == 0
            };
            if dark {
                data[(30 + y) * w + 30 + x] = 20;
            }
        }
    }
    LumaImage::new(w, h, data).expect("valid")
}

/// `img` moved by `(dx, dy)` pixels (a hand shaking between frames), edges repeated.
pub fn shifted(img: &LumaImage, dx: isize, dy: isize) -> LumaImage {
    let (w, h) = (img.width, img.height);
    let mut data = vec![0u8; w * h];
    for y in 0..h {
        let sy = (y as isize - dy).clamp(0, h as isize - 1) as usize;
        for x in 0..w {
            let sx = (x as isize - dx).clamp(0, w as isize - 1) as usize;
            data[y * w + x] = img.data[sy * w + sx];
        }
    }
    LumaImage::new(w, h, data).expect("valid")
}

/// `img` under a box blur of radius `r` (badly out of focus), done twice, each separably.
pub fn defocused(img: &LumaImage, r: usize) -> LumaImage {
    let (w, h) = (img.width, img.height);
    // One 1-D pass along `n` lines of `len` pixels, `step` apart within a line.
    let pass = |src: &[u8], n: usize, len: usize, line: usize, step: usize| {
        let mut out = vec![0u8; w * h];
        for l in 0..n {
            for i in 0..len {
                let (i0, i1) = (i.saturating_sub(r), (i + r + 1).min(len));
                let sum: u32 = (i0..i1).map(|j| src[l * line + j * step] as u32).sum();
                out[l * line + i * step] = (sum / (i1 - i0) as u32) as u8;
            }
        }
        out
    };
    let mut cur = img.data.clone();
    for _ in 0..2 {
        cur = pass(&cur, h, w, w, 1);
        cur = pass(&cur, w, h, 1, w);
    }
    LumaImage::new(w, h, cur).expect("valid")
}
