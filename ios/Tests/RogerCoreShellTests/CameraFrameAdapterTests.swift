import CoreVideo
import Foundation
import ImageIO
import XCTest

@testable import RogerCore

/// A scanner that records its frames and can be held inside a decode.
private final class RecordingScanner: QrScannerProtocol, @unchecked Sendable {
    struct Frame {
        let luma: Data
        let width: UInt32
        let height: UInt32
        let rowStride: UInt32
        let rotation: Int32
        let onMainThread: Bool
    }

    private let lock = NSLock()
    private var recorded: [Frame] = []
    let entered = DispatchSemaphore(value: 0)
    var hold: DispatchSemaphore?

    var frames: [Frame] {
        lock.lock()
        defer { lock.unlock() }
        return recorded
    }

    func reset() {}

    func submit(luma: Data, width: UInt32, height: UInt32, rowStride: UInt32, rotationDegrees: Int32) throws -> ScanResult {
        lock.lock()
        recorded.append(Frame(luma: luma, width: width, height: height, rowStride: rowStride,
                              rotation: rotationDegrees, onMainThread: Thread.isMainThread))
        lock.unlock()
        entered.signal()
        _ = hold?.wait(timeout: .now() + 10)
        return .hint(hint: .holdSteady)
    }
}

/// A bi-planar full-range 4:2:0 buffer whose luma pixel (x, y) is 10 * y + x and whose row
/// padding is 0xEE.
private func pixelBuffer(width: Int, height: Int, format: OSType = kCVPixelFormatType_420YpCbCr8BiPlanarFullRange) throws -> CVPixelBuffer {
    var buffer: CVPixelBuffer?
    let attributes = [kCVPixelBufferBytesPerRowAlignmentKey as String: 64] as CFDictionary
    XCTAssertEqual(CVPixelBufferCreate(nil, width, height, format, attributes, &buffer), kCVReturnSuccess)
    let pixels = try XCTUnwrap(buffer)
    CVPixelBufferLockBaseAddress(pixels, [])
    defer { CVPixelBufferUnlockBaseAddress(pixels, []) }
    if format == kCVPixelFormatType_420YpCbCr8BiPlanarFullRange {
        let stride = CVPixelBufferGetBytesPerRowOfPlane(pixels, 0)
        let base = try XCTUnwrap(CVPixelBufferGetBaseAddressOfPlane(pixels, 0)).assumingMemoryBound(to: UInt8.self)
        for y in 0..<height {
            for x in 0..<stride { base[y * stride + x] = x < width ? UInt8(truncatingIfNeeded: 10 * y + x) : 0xEE }
        }
    }
    return pixels
}

private func packed(width: Int, height: Int) -> Data {
    Data((0..<(width * height)).map { UInt8(truncatingIfNeeded: 10 * ($0 / width) + $0 % width) })
}

final class CameraFrameAdapterTests: XCTestCase {
    func testRowPaddingIsRemoved() throws {
        let scanner = RecordingScanner()
        let delivered = expectation(description: "hint delivered")
        let adapter = CameraFrameAdapter(scanner: scanner) { event in
            if case .hint(.holdSteady) = event { delivered.fulfill() }
        }
        let pixels = try pixelBuffer(width: 6, height: 4)
        XCTAssertGreaterThan(CVPixelBufferGetBytesPerRowOfPlane(pixels, 0), 6, "the rows are padded")
        XCTAssertTrue(try adapter.submit(pixels, orientation: .right))
        wait(for: [delivered], timeout: 10)
        let frame = try XCTUnwrap(scanner.frames.first)
        XCTAssertEqual(frame.luma, packed(width: 6, height: 4))
        XCTAssertEqual(frame.width, 6)
        XCTAssertEqual(frame.height, 4)
        XCTAssertEqual(frame.rowStride, 6)
        XCTAssertEqual(frame.rotation, 90)
        XCTAssertFalse(frame.onMainThread)
    }

    func testFramesAreDroppedWhileOneIsDecoded() throws {
        let scanner = RecordingScanner()
        scanner.hold = DispatchSemaphore(value: 0)
        let adapter = CameraFrameAdapter(scanner: scanner) { _ in }
        let pixels = try pixelBuffer(width: 8, height: 8)
        XCTAssertTrue(try adapter.submit(pixels, rotationDegrees: 0))
        XCTAssertEqual(scanner.entered.wait(timeout: .now() + 10), .success)
        XCTAssertFalse(try adapter.submit(pixels, rotationDegrees: 0))
        XCTAssertFalse(try adapter.submit(pixels, rotationDegrees: 0))
        XCTAssertEqual(adapter.droppedFrames, 2)
        scanner.hold?.signal()
        let deadline = Date().addingTimeInterval(10)
        while adapter.isBusy && Date() < deadline { usleep(1000) }
        scanner.hold = nil
        XCTAssertTrue(try adapter.submit(pixels, rotationDegrees: 0))
        XCTAssertEqual(scanner.entered.wait(timeout: .now() + 10), .success)
        XCTAssertEqual(scanner.frames.count, 2, "dropped frames never reach the scanner")
    }

    func testUnsupportedFramesAreRefused() throws {
        let adapter = CameraFrameAdapter(scanner: RecordingScanner()) { _ in }
        let bgra = try pixelBuffer(width: 4, height: 4, format: kCVPixelFormatType_32BGRA)
        XCTAssertThrowsError(try adapter.submit(bgra, rotationDegrees: 0)) { error in
            XCTAssertEqual(error as? CameraFrameError, .unsupportedPixelFormat(kCVPixelFormatType_32BGRA))
        }
        let pixels = try pixelBuffer(width: 4, height: 4)
        XCTAssertThrowsError(try adapter.submit(pixels, rotationDegrees: 45))
        XCTAssertThrowsError(try adapter.submit(pixels, orientation: .upMirrored))
        XCTAssertFalse(adapter.isBusy)
    }

    func testOrientationsMapToClockwiseRotations() {
        XCTAssertEqual(CameraFrameAdapter.rotationDegrees(for: .up), 0)
        XCTAssertEqual(CameraFrameAdapter.rotationDegrees(for: .right), 90)
        XCTAssertEqual(CameraFrameAdapter.rotationDegrees(for: .down), 180)
        XCTAssertEqual(CameraFrameAdapter.rotationDegrees(for: .left), 270)
        XCTAssertNil(CameraFrameAdapter.rotationDegrees(for: .leftMirrored))
        XCTAssertEqual(CameraFrameAdapter.rotationDegrees(videoRotationAngle: 90), 90)
        XCTAssertEqual(CameraFrameAdapter.rotationDegrees(videoRotationAngle: -90), 270)
        XCTAssertEqual(CameraFrameAdapter.rotationDegrees(videoRotationAngle: 360), 0)
        XCTAssertNil(CameraFrameAdapter.rotationDegrees(videoRotationAngle: 45))
    }

    func testEventsArriveAsAStream() async throws {
        let scanner = RecordingScanner()
        let (adapter, events) = CameraFrameAdapter.stream(scanner: scanner)
        XCTAssertTrue(try adapter.submit(try pixelBuffer(width: 4, height: 4), rotationDegrees: 180))
        var iterator = events.makeAsyncIterator()
        guard case .hint(.holdSteady)? = await iterator.next() else { return XCTFail("no hint") }
        XCTAssertEqual(scanner.frames.first?.rotation, 180)
    }
}
