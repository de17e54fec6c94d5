import GRDB
import GRDBSQLite

/// A value for `Statement.run(_:in:)` to bind.
enum SQLiteArgument {
    case integer(Int64)
    case blob([UInt8])
    /// UTF-8, bound with its length, so it may hold any character.
    case text([UInt8])
}

extension Statement {
    /// Runs this statement once with `arguments` bound to its `?`s in order, and returns the first
    /// column of its first row as an integer, nil if it gives no row.
    ///
    /// For the statements every message runs: GRDB's `execute(arguments:)` and `fetchOne` box each
    /// value in a `DatabaseValue`, copy and check the argument list, and bind through one nested
    /// closure per value, a sixth to a quarter of storing one message (docs/performance.md 12).
    /// Values are copied into SQLite (`SQLITE_TRANSIENT`), and the statement is reset before this
    /// returns, so no binding outlives its bytes and no read stays open. Only for statements that
    /// change neither the schema nor the transaction state, which is what GRDB tracks around a step.
    @discardableResult
    func run(_ arguments: [SQLiteArgument], in db: Database) throws -> Int64? {
        let statement = sqliteStatement
        // Reset's code only repeats a failed step's, which is thrown below.
        defer { sqlite3_reset(statement) }
        for (index, argument) in zip(CInt(1)..., arguments) {
            let code = switch argument {
            case .integer(let value): sqlite3_bind_int64(statement, index, value)
            case .blob(let bytes):
                bytes.withUnsafeBytes { buffer in
                    // A null pointer would bind NULL, not an empty value.
                    guard let start = buffer.baseAddress else { return sqlite3_bind_zeroblob(statement, index, 0) }
                    return sqlite3_bind_blob(statement, index, start, CInt(buffer.count), Self.transient)
                }
            case .text(let utf8):
                utf8.withUnsafeBytes { buffer in
                    guard let start = buffer.baseAddress else { return sqlite3_bind_text(statement, index, "", 0, Self.transient) }
                    return sqlite3_bind_text(statement, index, start.assumingMemoryBound(to: CChar.self), CInt(buffer.count),
                                             Self.transient)
                }
            }
            guard code == SQLITE_OK else { throw error(code, in: db) }
        }
        switch sqlite3_step(statement) {
        case SQLITE_DONE: return nil
        case SQLITE_ROW: return sqlite3_column_int64(statement, 0)
        case let code: throw error(code, in: db)
        }
    }

    /// SQLite's `SQLITE_TRANSIENT` (copy the value now), a C macro Swift does not import.
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    private func error(_ code: CInt, in db: Database) -> DatabaseError {
        DatabaseError(resultCode: ResultCode(rawValue: code), message: db.sqliteConnection.map { String(cString: sqlite3_errmsg($0)) }, sql: sql)
    }
}
