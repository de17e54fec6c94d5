/// Why the message store cannot be opened or used. Every case names the file and reads as one
/// sentence that tells a person what to do (STYLE.md 5); the store never overwrites or migrates a
/// file it refuses.
public enum StoreError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file is not an SQLite database, or SQLite reports it damaged.
    case unreadable(path: String)
    /// Another running node holds the store's lock.
    case lockedByAnotherNode(path: String)
    /// The database was written by a newer MeshChat (it records a migration this code does not know).
    case newerVersion(path: String)
    /// The file or its lock could not be created or opened (missing directory, permissions).
    case cannotOpen(path: String, reason: String)
    /// A read or write failed on an open store (disk full, I/O error).
    case failed(path: String, reason: String)

    /// One sentence: what is wrong and what to do next.
    public var description: String {
        switch self {
        case .unreadable(let path):
            "The message store \(path) is not a readable MeshChat database; move it away (it is left untouched) and start again for an empty store."
        case .lockedByAnotherNode(let path):
            "The message store \(path) is in use by another running MeshChat node; stop that node or use another home directory."
        case .newerVersion(let path):
            "The message store \(path) was written by a newer version of MeshChat; run that version (this one leaves the file untouched)."
        case .cannotOpen(let path, let reason):
            "The message store \(path) cannot be opened (\(reason)); check that its directory exists and is writable."
        case .failed(let path, let reason):
            "The message store \(path) failed (\(reason)); check free disk space and permissions."
        }
    }
}
