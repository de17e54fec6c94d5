/// What can go wrong in a cryptographic operation that a peer or the environment can cause.
///
/// Authentication failures are deliberately one opaque case: callers learn that something
/// did not verify, never which byte or which step.
public enum CryptoError: Error, Equatable, Sendable {
    /// Bytes that do not form a valid key of the expected kind (wrong length, not canonical,
    /// not convertible, or a low-order point).
    case invalidKey
    /// A ciphertext, tag, sealed box or shared secret did not authenticate.
    case authenticationFailure
    /// An input length outside what the primitive accepts.
    case invalidLength
}

/// The one path from a C return code into Swift. libsodium and OpenSSL differ in what
/// "success" means, so each caller states it; a failure becomes the given error.
@inline(__always)
func check(_ succeeded: Bool, else error: CryptoError) throws(CryptoError) {
    if !succeeded { throw error }
}
