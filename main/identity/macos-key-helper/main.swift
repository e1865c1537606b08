// dta-keyhelper: the macOS device key's command layer (main/identity/macos-key-store.ts).
// One JSON request on stdin, one JSON reply on stdout, exit 0 on success and 1 on failure,
// which carries the OSStatus. Built with `swiftc -O main.swift -o dta-keyhelper` on macOS 11+
// and signed with the app's Developer ID; it has not been built or run in this repository's CI
// (Linux), see docs/key-protection.md.
//   secure-enclave: CryptoKit Secure Enclave keys. The key's dataRepresentation (usable only by
//     this Mac's Secure Enclave) is the reference the agent keeps; no keychain item is made.
//   system-keychain: a non-extractable P-256 key in /Library/Keychains/System.keychain whose
//     access list names only this helper, found again by its label.
import CryptoKit
import Foundation
import Security

struct Request: Decodable {
  let op: String
  let store: String
  let label: String?
  let ref: String?
  let data: String?
}

func reply(_ object: [String: Any], exitCode: Int32 = 0) -> Never {
  // The reply holds only strings, numbers and booleans, which JSONSerialization always takes.
  let data = (try? JSONSerialization.data(withJSONObject: object)) ?? Data("{\"ok\":false,\"status\":-50,\"message\":\"unencodable reply\"}".utf8)
  FileHandle.standardOutput.write(data)
  exit(exitCode)
}

func fail(_ status: OSStatus, _ message: String) -> Never {
  reply(["ok": false, "status": Int(status), "message": message], exitCode: 1)
}

func text(_ status: OSStatus) -> String {
  (SecCopyErrorMessageString(status, nil) as String?) ?? "OSStatus \(status)"
}

func status(of error: Error) -> OSStatus {
  let ns = error as NSError
  return ns.domain == NSOSStatusErrorDomain ? OSStatus(ns.code) : errSecInternalComponent
}

func publicX963(of key: SecKey) -> String {
  guard let publicKey = SecKeyCopyPublicKey(key) else { fail(errSecInvalidKeyRef, "The key has no public key.") }
  var error: Unmanaged<CFError>?
  guard let point = SecKeyCopyExternalRepresentation(publicKey, &error) as Data? else {
    let e = error!.takeRetainedValue() as Error
    fail(status(of: e), e.localizedDescription)
  }
  return point.base64EncodedString()
}

func payload(_ request: Request) -> Data {
  guard let text = request.data, let data = Data(base64Encoded: text) else { fail(errSecParam, "Nothing to sign.") }
  return data
}

func secureEnclave(_ request: Request) -> Never {
  if request.op == "probe" {
    if SecureEnclave.isAvailable { reply(["ok": true, "secureEnclave": true]) }
    reply(["ok": true, "secureEnclave": false, "reason": "SecureEnclave.isAvailable is false (no Secure Enclave on this Mac)"])
  }
  if request.op == "create" {
    do {
      let key = try SecureEnclave.P256.Signing.PrivateKey()
      reply(["ok": true, "ref": key.dataRepresentation.base64EncodedString(), "publicKey": key.publicKey.x963Representation.base64EncodedString()])
    } catch {
      fail(status(of: error), "The Secure Enclave could not make a key: \(error)")
    }
  }
  // The key is its blob: deleting the agent's slot file deletes it.
  if request.op == "delete" { reply(["ok": true]) }
  guard let ref = request.ref, let blob = Data(base64Encoded: ref) else { fail(errSecParam, "No key reference.") }
  let key: SecureEnclave.P256.Signing.PrivateKey
  do {
    key = try SecureEnclave.P256.Signing.PrivateKey(dataRepresentation: blob)
  } catch {
    // The Secure Enclave refuses a blob it did not wrap (another Mac, an erased one): the key is gone.
    fail(errSecItemNotFound, "The Secure Enclave cannot use this device key (\(error)).")
  }
  switch request.op {
  case "public":
    reply(["ok": true, "publicKey": key.publicKey.x963Representation.base64EncodedString()])
  case "sign":
    do {
      let signature = try key.signature(for: payload(request))
      reply(["ok": true, "signature": signature.derRepresentation.base64EncodedString()])
    } catch {
      fail(status(of: error), "The Secure Enclave could not sign: \(error)")
    }
  default:
    fail(errSecParam, "Unknown operation.")
  }
}

func systemKeychain() -> SecKeychain {
  var keychain: SecKeychain?
  let opened = SecKeychainOpen("/Library/Keychains/System.keychain", &keychain)
  guard opened == errSecSuccess, let keychain else { fail(opened, text(opened)) }
  return keychain
}

func findKey(_ label: String, in keychain: SecKeychain) -> SecKey {
  let query: [String: Any] = [
    kSecClass as String: kSecClassKey,
    kSecAttrKeyClass as String: kSecAttrKeyClassPrivate,
    kSecAttrLabel as String: label,
    kSecMatchSearchList as String: [keychain],
    kSecReturnRef as String: true,
  ]
  var item: CFTypeRef?
  let found = SecItemCopyMatching(query as CFDictionary, &item)
  guard found == errSecSuccess, let item else { fail(found, text(found)) }
  return item as! SecKey
}

func keychainKey(_ request: Request) -> Never {
  let keychain = systemKeychain()
  switch request.op {
  case "probe":
    reply(["ok": true, "secureEnclave": false])
  case "create":
    guard let label = request.label else { fail(errSecParam, "No label.") }
    var me: SecTrustedApplication?
    var access: SecAccess?
    let trusted = SecTrustedApplicationCreateFromPath(nil, &me)
    guard trusted == errSecSuccess, let me else { fail(trusted, text(trusted)) }
    let made = SecAccessCreate("Device Trust device key" as CFString, [me] as CFArray, &access)
    guard made == errSecSuccess, let access else { fail(made, text(made)) }
    let attributes: [String: Any] = [
      kSecAttrKeyType as String: kSecAttrKeyTypeECSECPrimeRandom,
      kSecAttrKeySizeInBits as String: 256,
      kSecUseKeychain as String: keychain,
      kSecAttrAccess as String: access,
      kSecAttrLabel as String: label,
      kSecAttrIsPermanent as String: true,
      kSecAttrIsExtractable as String: false,
    ]
    var error: Unmanaged<CFError>?
    guard let key = SecKeyCreateRandomKey(attributes as CFDictionary, &error) else {
      let e = error!.takeRetainedValue() as Error
      fail(status(of: e), e.localizedDescription)
    }
    reply(["ok": true, "ref": label, "publicKey": publicX963(of: key)])
  case "public":
    guard let label = request.ref else { fail(errSecParam, "No key reference.") }
    reply(["ok": true, "publicKey": publicX963(of: findKey(label, in: keychain))])
  case "sign":
    guard let label = request.ref else { fail(errSecParam, "No key reference.") }
    var error: Unmanaged<CFError>?
    guard let signature = SecKeyCreateSignature(findKey(label, in: keychain), .ecdsaSignatureMessageX962SHA256, payload(request) as CFData, &error) as Data? else {
      let e = error!.takeRetainedValue() as Error
      fail(status(of: e), e.localizedDescription)
    }
    reply(["ok": true, "signature": signature.base64EncodedString()])
  case "delete":
    guard let label = request.ref else { fail(errSecParam, "No key reference.") }
    let query: [String: Any] = [kSecClass as String: kSecClassKey, kSecAttrLabel as String: label, kSecMatchSearchList as String: [keychain]]
    let deleted = SecItemDelete(query as CFDictionary)
    if deleted != errSecSuccess && deleted != errSecItemNotFound { fail(deleted, text(deleted)) }
    reply(["ok": true])
  default:
    fail(errSecParam, "Unknown operation.")
  }
}

let input = FileHandle.standardInput.readDataToEndOfFile()
guard input.count <= 1_048_576, let request = try? JSONDecoder().decode(Request.self, from: input) else {
  fail(errSecParam, "The request is not one JSON object of the agent.")
}
switch request.store {
case "secure-enclave": secureEnclave(request)
case "system-keychain": keychainKey(request)
default: fail(errSecParam, "Unknown store.")
}
