import CoreVideo
import Foundation
import ImageIO

/// Why a camera frame could not be handed to the scanner.
public enum CameraFrameError: Error, Equatable {
    /// The pixel buffer is not bi-planar 4:2:0 (`420YpCbCr8BiPlanarFullRange` or `VideoRange`)
    /// nor 8-bit grey (`OneComponent8`).
    case unsupportedPixelFormat(OSType)
    /// `CVPixelBufferLockBaseAddress` failed with this code.
    case lockFailed(CVReturn)
    /// The pixel buffer has no readable luma plane.
    case noLumaPlane
    /// The orientation is mirrored (front camera) or the angle is not a multiple of 90 degrees.
    case unsupportedOrientation(String)
}

/// Feeds camera frames (`CVPixelBuffer`s from `AVCaptureVideoDataOutput`) to the core's
/// ``QrScannerProtocol`` (from `PrinterApi.scanner()`). The luma plane of an accepted frame is
/// copied on the calling thread, so the buffer goes back to the camera as soon as `submit`
/// returns; it is decoded on a serial `DispatchQueue`, never the caller's. While a frame is
/// being decoded, new frames are dropped at once (`submit` returns `false`), so a slow decode
/// never queues frames or stalls capture.
///
/// Results arrive through the `handler` given to ``init(scanner:queue:handler:)``, on the
/// decoding queue, or as an `AsyncStream` from ``stream(scanner:queue:)``.
///
/// ```swift
/// func captureOutput(_ output: AVCaptureOutput, didOutput sampleBuffer: CMSampleBuffer,
///                    from connection: AVCaptureConnection) {
///     guard let pixels = CMSampleBufferGetImageBuffer(sampleBuffer) else { return }
///     _ = try? adapter.submit(pixels, orientation: .right) // back camera, portrait
/// }
/// ```
public final class CameraFrameAdapter: @unchecked Sendable {
    /// What a decoded frame produced.
    public enum Event: @unchecked Sendable {
        /// A trusted pairing code: stop scanning and preview it (`PrinterApi.preview(code:)`).
        case paired(PairingCode)
        /// Something to tell the user (move closer, hold steady, not a Roger code, ...).
        case hint(ScannerHint)
        /// The scanner refused the frame.
        case failed(Error)
    }

    private let scanner: QrScannerProtocol
    private let queue: DispatchQueue
    private let handler: @Sendable (Event) -> Void
    private let lock = NSLock()
    private var busy = false
    private var dropped = 0
    private var decoded = 0

    /// An adapter that decodes on `queue` (a serial queue of its own by default) and calls
    /// `handler` there with every paired code, hint and failure.
    public init(
        scanner: QrScannerProtocol,
        queue: DispatchQueue = DispatchQueue(label: "com.myq.roger.qr-decoder", qos: .userInitiated),
        handler: @escaping @Sendable (Event) -> Void
    ) {
        self.scanner = scanner
        self.queue = queue
        self.handler = handler
    }

    /// An adapter whose events arrive as an `AsyncStream` (buffering the newest few).
    public static func stream(
        scanner: QrScannerProtocol,
        queue: DispatchQueue = DispatchQueue(label: "com.myq.roger.qr-decoder", qos: .userInitiated)
    ) -> (adapter: CameraFrameAdapter, events: AsyncStream<Event>) {
        let (events, continuation) = AsyncStream.makeStream(of: Event.self, bufferingPolicy: .bufferingNewest(8))
        let adapter = CameraFrameAdapter(scanner: scanner, queue: queue) { event in
            continuation.yield(event)
        }
        return (adapter, events)
    }

    /// Whether a frame is being decoded now (new frames are dropped meanwhile).
    public var isBusy: Bool { locked { busy } }

    /// Frames dropped so far because one was being decoded.
    public var droppedFrames: Int { locked { dropped } }

    /// Frames decoded so far.
    public var decodedFrames: Int { locked { decoded } }

    /// Offers a frame shown with `orientation` (the orientation Vision would be given: `.right`
    /// for the back camera held in portrait). Returns whether it was accepted.
    public func submit(_ pixelBuffer: CVPixelBuffer, orientation: CGImagePropertyOrientation) throws -> Bool {
        guard let degrees = Self.rotationDegrees(for: orientation) else {
            throw CameraFrameError.unsupportedOrientation("mirrored orientation \(orientation.rawValue)")
        }
        return try submit(pixelBuffer, rotationDegrees: degrees)
    }

    /// Offers a frame whose content must be turned `rotationDegrees` clockwise (0, 90, 180 or
    /// 270) to be upright. Returns whether it was accepted; `false` when a frame is being decoded.
    public func submit(_ pixelBuffer: CVPixelBuffer, rotationDegrees: Int32) throws -> Bool {
        guard [0, 90, 180, 270].contains(rotationDegrees) else {
            throw CameraFrameError.unsupportedOrientation("rotation \(rotationDegrees)")
        }
        let accepted: Bool = locked {
            if busy {
                dropped += 1
                return false
            }
            busy = true
            return true
        }
        guard accepted else { return false }
        let plane: (luma: Data, width: Int, height: Int)
        do {
            plane = try Self.copyLuma(pixelBuffer)
        } catch {
            locked { busy = false }
            throw error
        }
        queue.async { [self] in
            let event: Event?
            do {
                let result = try scanner.submit(
                    luma: plane.luma,
                    width: UInt32(plane.width),
                    height: UInt32(plane.height),
                    rowStride: UInt32(plane.width),
                    rotationDegrees: rotationDegrees
                )
                switch result {
                case .paired(let code): event = .paired(code)
                case .hint(let hint): event = .hint(hint)
                case .nothing, .dropped: event = nil
                }
            } catch {
                event = .failed(error)
            }
            locked {
                decoded += 1
                busy = false
            }
            if let event { handler(event) }
        }
        return true
    }

    /// The luma plane of `pixelBuffer`, rows packed (the row padding of
    /// `CVPixelBufferGetBytesPerRowOfPlane` removed), read with the base address locked read-only.
    static func copyLuma(_ pixelBuffer: CVPixelBuffer) throws -> (luma: Data, width: Int, height: Int) {
        let format = CVPixelBufferGetPixelFormatType(pixelBuffer)
        let planar = format == kCVPixelFormatType_420YpCbCr8BiPlanarFullRange
            || format == kCVPixelFormatType_420YpCbCr8BiPlanarVideoRange
        guard planar || format == kCVPixelFormatType_OneComponent8 else {
            throw CameraFrameError.unsupportedPixelFormat(format)
        }
        let status = CVPixelBufferLockBaseAddress(pixelBuffer, .readOnly)
        guard status == kCVReturnSuccess else { throw CameraFrameError.lockFailed(status) }
        defer { CVPixelBufferUnlockBaseAddress(pixelBuffer, .readOnly) }

        let base = planar
            ? CVPixelBufferGetBaseAddressOfPlane(pixelBuffer, 0)
            : CVPixelBufferGetBaseAddress(pixelBuffer)
        let width = planar ? CVPixelBufferGetWidthOfPlane(pixelBuffer, 0) : CVPixelBufferGetWidth(pixelBuffer)
        let height = planar ? CVPixelBufferGetHeightOfPlane(pixelBuffer, 0) : CVPixelBufferGetHeight(pixelBuffer)
        let bytesPerRow = planar
            ? CVPixelBufferGetBytesPerRowOfPlane(pixelBuffer, 0)
            : CVPixelBufferGetBytesPerRow(pixelBuffer)
        guard let base, width > 0, height > 0, bytesPerRow >= width else { throw CameraFrameError.noLumaPlane }

        let source = base.assumingMemoryBound(to: UInt8.self)
        var luma = Data(count: width * height)
        luma.withUnsafeMutableBytes { (out: UnsafeMutableRawBufferPointer) in
            let target = out.bindMemory(to: UInt8.self).baseAddress!
            for row in 0..<height {
                (target + row * width).update(from: source + row * bytesPerRow, count: width)
            }
        }
        return (luma, width, height)
    }

    /// The clockwise rotation that makes a frame upright, from the orientation it is shown
    /// with; `nil` for the mirrored orientations (the core does not unmirror a frame).
    public static func rotationDegrees(for orientation: CGImagePropertyOrientation) -> Int32? {
        switch orientation {
        case .up: return 0
        case .right: return 90
        case .down: return 180
        case .left: return 270
        case .upMirrored, .downMirrored, .leftMirrored, .rightMirrored: return nil
        @unknown default: return nil
        }
    }

    /// The clockwise rotation that makes a frame upright, from a capture rotation angle in
    /// degrees (`AVCaptureDevice.RotationCoordinator.videoRotationAngleForHorizonLevelCapture`,
    /// when the connection itself does not rotate the buffers); `nil` unless a multiple of 90.
    public static func rotationDegrees(videoRotationAngle: Double) -> Int32? {
        let degrees = Int(videoRotationAngle.rounded())
        guard Double(degrees) == videoRotationAngle, degrees % 90 == 0 else { return nil }
        return Int32(((degrees % 360) + 360) % 360)
    }

    private func locked<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }
}
