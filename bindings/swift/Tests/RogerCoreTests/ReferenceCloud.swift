import CryptoKit
import Foundation
import RogerCore
import XCTest

let alice = "alice@contoso.example"
let alicePassword = "alice-password"
let reception = "contoso-reception"

/// What went wrong in the test harness itself.
enum HarnessError: Error {
    case notConfigured(String)
    case control(String)
    case timeout(String)
}

/// The reference cloud (the `roger-sim` binary, path in `ROGER_SIM`) on loopback, driven
/// through its control API.
final class ReferenceCloud {
    private let process = Process()
    private let urls: [String: String]

    init() throws {
        guard let binary = ProcessInfo.processInfo.environment["ROGER_SIM"] else {
            throw HarnessError.notConfigured("ROGER_SIM is not set (run run-tests-macos.sh)")
        }
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["--json", "--control", "--fast-mfps"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        var line = Data()
        while true {
            let byte = output.fileHandleForReading.readData(ofLength: 1)
            if byte.isEmpty || byte.first == 0x0A { break }
            line.append(byte)
        }
        let object = try JSONSerialization.jsonObject(with: line)
        guard let fields = object as? [String: Any] else {
            throw HarnessError.control("the reference cloud printed no JSON object")
        }
        urls = fields.compactMapValues { $0 as? String }
    }

    /// Stops the cloud.
    func close() {
        process.terminate()
        process.waitUntilExit()
    }

    private func url(_ name: String) -> String { urls[name] ?? "" }

    /// A core configuration whose every URL points at this cloud.
    func config(appDataDir: URL) -> RogerConfig {
        var config = productionConfig(appDataDir: appDataDir.path)
        config.discoveryUrl = url("discovery")
        config.microsoftAuthority = url("microsoft authority")
        config.microsoftExpectedIssuer = url("identity") + "{tenantid}/v2.0"
        config.microsoftClientId = url("microsoft client id")
        config.graphUrl = url("graph")
        config.allowInsecureLoopback = true
        return config
    }

    private func q(_ value: String) -> String {
        value.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? value
    }

    private func request(_ path: String, method: String = "GET", body: Data? = nil) -> URLRequest {
        var request = URLRequest(url: URL(string: url("control") + path)!)
        request.httpMethod = method
        request.httpBody = body
        return request
    }

    private func send(_ request: URLRequest) async throws -> (Data, Int) {
        let (data, response) = try await URLSession.shared.data(for: request)
        return (data, (response as? HTTPURLResponse)?.statusCode ?? 0)
    }

    private func ok(_ request: URLRequest) async throws -> Data {
        let (data, status) = try await send(request)
        guard (200..<300).contains(status) else {
            throw HarnessError.control("\(request.url?.absoluteString ?? ""): \(status) \(String(decoding: data, as: UTF8.self))")
        }
        return data
    }

    private func json(_ request: URLRequest) async throws -> [String: Any] {
        let object = try JSONSerialization.jsonObject(with: try await ok(request))
        return object as? [String: Any] ?? [:]
    }

    /// The browser step of a sign-in: the user signs in on the page at `authorizeUrl`.
    func browserLogin(_ authorizeUrl: String, user: String = alice, password: String = alicePassword) async throws -> String {
        let body = try JSONSerialization.data(withJSONObject: ["url": authorizeUrl, "username": user, "password": password])
        var login = request("browser-login", method: "POST", body: body)
        login.setValue("application/json", forHTTPHeaderField: "content-type")
        return try await json(login)["redirect"] as? String ?? ""
    }

    /// The code the MFP shows (waits for one other than `previous`).
    func qr(_ printer: String, previous: String? = nil) async throws -> [String: Any] {
        try await json(request("mfp/\(printer)/qr" + (previous.map { "?previous=\(q($0))" } ?? "")))
    }

    /// What a phone camera sees of the MFP's screen: packed 8-bit luma.
    func cameraFrame(_ printer: String, width: Int, height: Int) async throws -> Data {
        try await ok(request("mfp/\(printer)/camera?width=\(width)&height=\(height)"))
    }

    /// The MFP's state: `sessionOpen`, `printed`, `uploaded`.
    func status(_ printer: String) async throws -> [String: Any] {
        try await json(request("mfp/\(printer)/status"))
    }

    /// The MFP's printed (or uploaded) records.
    func records(_ printer: String, _ kind: String) async throws -> [[String: Any]] {
        try await status(printer)[kind] as? [[String: Any]] ?? []
    }

    /// Puts a file in the user's OneDrive; returns its item id.
    @discardableResult
    func putFile(_ path: String, _ bytes: Data, user: String = alice) async throws -> String {
        try await json(request("graph/files?user=\(q(user))&path=\(q(path))", method: "PUT", body: bytes))["id"] as? String ?? ""
    }

    /// A file's bytes in the user's OneDrive, or nil.
    func fileBytes(_ path: String, user: String = alice) async throws -> Data? {
        let (data, status) = try await send(request("graph/files?user=\(q(user))&path=\(q(path))"))
        return status == 200 ? data : nil
    }
}

/// A secure store in memory that records what it was given, as the Keychain would hold it.
final class MapStore: SecureStore, @unchecked Sendable {
    private let lock = NSLock()
    private var values: [String: Data] = [:]

    func get(key: String) throws -> Data? {
        lock.lock()
        defer { lock.unlock() }
        return values[key]
    }

    func set(key: String, value: Data) throws {
        lock.lock()
        defer { lock.unlock() }
        values[key] = value
    }

    func delete(key: String) throws {
        lock.lock()
        defer { lock.unlock() }
        values.removeValue(forKey: key)
    }

    /// What the store holds now.
    var snapshot: [String: Data] {
        lock.lock()
        defer { lock.unlock() }
        return values
    }
}

/// A value shared between a test and the core's callback threads.
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) { self.value = value }

    /// Reads or changes the value under the lock.
    func with<T>(_ body: (inout Value) -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body(&value)
    }
}

func sha256(_ data: Data) -> String {
    SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
}

func tempDir(_ tag: String) throws -> URL {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("roger-swift-\(tag)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Polls `condition` until it holds, for state owned by another process (the reference cloud).
func eventually(_ what: String, timeout: TimeInterval = 30, _ condition: () async throws -> Bool) async throws {
    let deadline = Date().addingTimeInterval(timeout)
    while true {
        if try await condition() { return }
        if Date() > deadline { throw HarnessError.timeout(what) }
        try await Task.sleep(nanoseconds: 20_000_000)
    }
}

/// Runs `body`, failing with a timeout after `seconds`.
func withTimeout<T: Sendable>(_ seconds: Double, _ what: String, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(nanoseconds: UInt64(seconds * 1_000_000_000))
            throw HarnessError.timeout(what)
        }
        guard let first = try await group.next() else { throw HarnessError.timeout(what) }
        group.cancelAll()
        return first
    }
}

/// Asserts that `body` throws a ``RogerError`` that `matches` accepts.
func assertThrowsRogerError<T>(
    _ body: () async throws -> T,
    file: StaticString = #filePath,
    line: UInt = #line,
    _ matches: (RogerError) -> Bool
) async {
    do {
        let value = try await body()
        XCTFail("expected an error, got \(value)", file: file, line: line)
    } catch let error as RogerError {
        XCTAssertTrue(matches(error), "unexpected error \(error)", file: file, line: line)
    } catch {
        XCTFail("not a RogerError: \(error)", file: file, line: line)
    }
}

/// A document that looks like a PDF.
func document(size: Int, seed: Int) -> Data {
    Data("%PDF-1.7\n".utf8) + Data((0..<size).map { UInt8(truncatingIfNeeded: $0 &* 29 &+ seed) })
}
