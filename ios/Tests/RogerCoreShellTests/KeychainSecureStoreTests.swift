import Foundation
import Security
import XCTest

@testable import RogerCore

/// The Keychain store against the simulator's (or device's) real Keychain, one service per test.
final class KeychainSecureStoreTests: XCTestCase {
    private var store: KeychainSecureStore!

    override func setUp() {
        super.setUp()
        store = KeychainSecureStore(service: "com.myq.roger.tests.\(UUID().uuidString)")
    }

    override func tearDown() {
        let query: [String: Any] = [
            kSecClass as String: kSecClassGenericPassword,
            kSecAttrService as String: store.service,
        ]
        SecItemDelete(query as CFDictionary)
        super.tearDown()
    }

    func testAbsentKeyReadsNil() throws {
        XCTAssertNil(try store.get(key: "never.set"))
        XCTAssertNoThrow(try store.delete(key: "never.set"))
    }

    func testRoundTripAndOverwrite() throws {
        try store.set(key: "account.roger", value: Data("first".utf8))
        XCTAssertEqual(try store.get(key: "account.roger"), Data("first".utf8))
        try store.set(key: "account.roger", value: Data("second, longer".utf8))
        XCTAssertEqual(try store.get(key: "account.roger"), Data("second, longer".utf8))
        try store.set(key: "empty", value: Data())
        XCTAssertEqual(try store.get(key: "empty"), Data())
    }

    func testDeleteRemovesOnlyThatKey() throws {
        try store.set(key: "a", value: Data([1, 2, 3]))
        try store.set(key: "b", value: Data([4]))
        try store.delete(key: "a")
        XCTAssertNil(try store.get(key: "a"))
        XCTAssertEqual(try store.get(key: "b"), Data([4]))
    }

    func testServicesAreSeparate() throws {
        let other = KeychainSecureStore(service: store.service + ".other")
        defer { try? other.delete(key: "k") }
        try store.set(key: "k", value: Data("mine".utf8))
        XCTAssertNil(try other.get(key: "k"))
    }

    func testItemsStayOnThisDeviceAndOutOfICloud() throws {
        try store.set(key: "k", value: Data("v".utf8))
        let query: [String: Any] = [
            kSecClass as String: kSecClassGenericPassword,
            kSecAttrService as String: store.service,
            kSecAttrAccount as String: "k",
            kSecReturnAttributes as String: true,
            kSecMatchLimit as String: kSecMatchLimitOne,
        ]
        var result: CFTypeRef?
        XCTAssertEqual(SecItemCopyMatching(query as CFDictionary, &result), errSecSuccess)
        let attributes = try XCTUnwrap(result as? [String: Any])
        XCTAssertEqual(attributes[kSecAttrAccessible as String] as? String,
                       kSecAttrAccessibleAfterFirstUnlockThisDeviceOnly as String)
        XCTAssertNotEqual(attributes[kSecAttrSynchronizable as String] as? Bool, true)
    }

    func testStatusesMapToStoreFailures() {
        XCTAssertEqual(
            KeychainSecureStore.failure(errSecInteractionNotAllowed, "reading k").kind, "Unavailable")
        XCTAssertEqual(KeychainSecureStore.failure(errSecDecode, "reading k").kind, "Failed")
    }
}

private extension StoreFailure {
    var kind: String {
        switch self {
        case .AccessDenied: return "AccessDenied"
        case .Unavailable: return "Unavailable"
        case .Failed: return "Failed"
        }
    }
}
