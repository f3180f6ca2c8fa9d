import Foundation
import Security

/// The core's ``SecureStore`` on iOS: each value is one generic-password item of the Keychain,
/// `kSecAttrService` = the app's service name, `kSecAttrAccount` = the key, readable after the
/// first unlock since boot (so the core can refresh tokens in the background) and on this
/// device only: `kSecAttrAccessibleAfterFirstUnlockThisDeviceOnly`, never synchronised to
/// iCloud Keychain, not restored from a backup onto another device.
///
/// An absent item reads as `nil`. A Keychain that refuses access because the device is locked
/// (`errSecInteractionNotAllowed`, before the first unlock) throws `StoreFailure.Unavailable`;
/// any other status throws `StoreFailure.Failed` with the `OSStatus` and its message.
/// `set` updates the existing item in place or adds it, so a failed write leaves the old value.
public final class KeychainSecureStore: SecureStore, @unchecked Sendable {
    /// The `kSecAttrService` of every item of this store.
    public let service: String

    /// The Keychain access group of the items, or `nil` for the app's default group.
    public let accessGroup: String?

    // The Keychain is thread-safe; the lock keeps an update-or-add pair from interleaving.
    private let lock = NSLock()

    /// A store whose items carry `service` (one per app, e.g. `"com.myq.roger.secure-store"`),
    /// in `accessGroup` when an app group shares them with an extension.
    public init(service: String, accessGroup: String? = nil) {
        self.service = service
        self.accessGroup = accessGroup
    }

    /// The attributes that identify the item of `key`.
    private func query(_ key: String) -> [String: Any] {
        var query: [String: Any] = [
            kSecClass as String: kSecClassGenericPassword,
            kSecAttrService as String: service,
            kSecAttrAccount as String: key,
            kSecAttrSynchronizable as String: kCFBooleanFalse as Any,
            kSecUseDataProtectionKeychain as String: kCFBooleanTrue as Any,
        ]
        if let accessGroup {
            query[kSecAttrAccessGroup as String] = accessGroup
        }
        return query
    }

    /// Reads the value of `key`; `nil` when there is none.
    public func get(key: String) throws -> Data? {
        var request = query(key)
        request[kSecReturnData as String] = kCFBooleanTrue
        request[kSecMatchLimit as String] = kSecMatchLimitOne
        var result: CFTypeRef?
        let status = locked { SecItemCopyMatching(request as CFDictionary, &result) }
        switch status {
        case errSecSuccess:
            guard let data = result as? Data else {
                throw StoreFailure.Failed(detail: "the Keychain item of \(key) holds no data")
            }
            return data
        case errSecItemNotFound:
            return nil
        default:
            throw Self.failure(status, "reading \(key)")
        }
    }

    /// Writes `value` under `key`, replacing any previous value.
    public func set(key: String, value: Data) throws {
        try locked {
            let attributes: [String: Any] = [
                kSecValueData as String: value,
                kSecAttrAccessible as String: kSecAttrAccessibleAfterFirstUnlockThisDeviceOnly,
            ]
            let updated = SecItemUpdate(query(key) as CFDictionary, attributes as CFDictionary)
            switch updated {
            case errSecSuccess:
                return
            case errSecItemNotFound:
                var item = query(key)
                item.merge(attributes) { _, new in new }
                let added = SecItemAdd(item as CFDictionary, nil)
                guard added == errSecSuccess else { throw Self.failure(added, "adding \(key)") }
            default:
                throw Self.failure(updated, "updating \(key)")
            }
        }
    }

    /// Deletes the value of `key`; deleting an absent key is not an error.
    public func delete(key: String) throws {
        let status = locked { SecItemDelete(query(key) as CFDictionary) }
        guard status == errSecSuccess || status == errSecItemNotFound else {
            throw Self.failure(status, "deleting \(key)")
        }
    }

    /// Runs `body` holding the store's lock.
    private func locked<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    /// The ``StoreFailure`` of a Keychain `status` (never the secret, only what was attempted).
    static func failure(_ status: OSStatus, _ what: String) -> StoreFailure {
        let message = (SecCopyErrorMessageString(status, nil) as String?) ?? "no message"
        let detail = "\(what): OSStatus \(status) (\(message))"
        if status == errSecInteractionNotAllowed {
            return .Unavailable(detail: "the device is locked; \(detail)")
        }
        return .Failed(detail: detail)
    }
}
