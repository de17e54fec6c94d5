#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An exclusive `flock` on `<database>.lock`, held for the store's lifetime, so a second node
/// opening the same store is told so before it touches the database. `flock` rather than SQLite's
/// `locking_mode=EXCLUSIVE`: it is taken before SQLite reads a byte, is released by the kernel
/// when a process dies (no stale lock after a crash), and leaves WAL readers such as the
/// `sqlite3` shell free to inspect the store.
final class StoreLock {
    /// The lock file's mode: only the owner reads and writes it, like the database.
    private static let fileMode: mode_t = 0o600

    private var descriptor: Int32

    /// Takes the lock or throws `.lockedByAnotherNode`.
    init(databasePath: String) throws(StoreError) {
        let lockPath = databasePath + ".lock"
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, Self.fileMode)
        guard fd >= 0 else {
            throw .cannotOpen(path: databasePath, reason: String(cString: strerror(errno)))
        }
        // flock locks belong to the open file description, so two stores in one process also exclude each other.
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let error = errno
            close(fd)
            if error == EWOULDBLOCK { throw .lockedByAnotherNode(path: databasePath) }
            throw .cannotOpen(path: databasePath, reason: String(cString: strerror(error)))
        }
        descriptor = fd
    }

    /// Releases the lock (idempotent).
    func release() {
        guard descriptor >= 0 else { return }
        // Closing the descriptor releases the flock.
        close(descriptor)
        descriptor = -1
    }

    deinit { release() }
}
