import GRDB

/// The schema, as named migrations that are only ever appended (STYLE.md 13): a released
/// migration is never edited, a change is a new "vN". A database that records an identifier not
/// listed here was written by a newer MeshChat and is refused (`StoreError.newerVersion`).
enum Schema {
    /// Every migration, in order.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1", migrate: v1)
        return migrator
    }

    /// The first schema. STRICT tables so a column holds only its declared type; the invariants
    /// of PROTOCOL.md 6 that SQL can state are CHECKs here, not Swift.
    private static func v1(_ db: Database) throws {
        // The implicit rowid is the insertion order (`recent`); SQLite assigns max(rowid)+1, so it
        // only grows while rows remain. `envelope` is the encoding as received, hops included, so
        // a stored envelope re-parses byte for byte. The id is unique; (author, seq) is not:
        // "a second envelope with an author and seq already seen but another id is kept" (rule 3).
        try db.execute(sql: """
            CREATE TABLE message (
                id BLOB PRIMARY KEY CHECK (length(id) = 32),
                author BLOB NOT NULL CHECK (length(author) = 32),
                seq INTEGER NOT NULL CHECK (seq >= 1),
                kind INTEGER NOT NULL CHECK (kind IN (1, 2)),
                room TEXT NOT NULL CHECK ((kind = 1) = (room <> '')),
                timestamp INTEGER NOT NULL CHECK (timestamp >= 0),
                hops INTEGER NOT NULL CHECK (hops BETWEEN 0 AND 255),
                envelope BLOB NOT NULL CHECK (length(envelope) > 0),
                stored_at INTEGER NOT NULL
            ) STRICT;
            CREATE INDEX message_by_author_seq ON message (author, seq);
            -- The rowid is every index's last column, so this serves "room = ? ORDER BY rowid".
            CREATE INDEX message_by_room ON message (room);
            CREATE INDEX message_by_timestamp ON message (timestamp);

            -- Each author's sync frontier, kept when messages are pruned so a pruned range is never
            -- asked for again.
            CREATE TABLE author (
                key BLOB PRIMARY KEY CHECK (length(key) = 32),
                contiguous INTEGER NOT NULL CHECK (contiguous >= 0),
                highest INTEGER NOT NULL CHECK (highest >= contiguous)
            ) STRICT;

            -- This node's own counters (own seq floor, last handshake timestamp).
            CREATE TABLE node_state (
                key TEXT PRIMARY KEY CHECK (key <> ''),
                value INTEGER NOT NULL
            ) STRICT;

            -- Per peer, the largest handshake timestamp accepted (PROTOCOL.md 4 replay protection).
            CREATE TABLE peer (
                key BLOB PRIMARY KEY CHECK (length(key) = 32),
                last_accepted_timestamp INTEGER
            ) STRICT;
            """)
    }
}
