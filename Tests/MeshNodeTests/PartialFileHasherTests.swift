import Foundation
import MeshCrypto
@testable import MeshNode
import Testing

/// The receiver's hash, kept up with a partial file on its own thread (docs/file-transfer.md 7).
@Suite struct PartialFileHasherTests {
    let bytes = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 9) }

    /// A fresh file in a fresh folder holding `prefix`, open for appending.
    func partialFile(holding prefix: ArraySlice<UInt8>) throws -> (path: String, handle: FileHandle) {
        let folder = NSTemporaryDirectory() + "meshchat-hasher-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let path = folder + "/file.part"
        guard FileManager.default.createFile(atPath: path, contents: Data(prefix)),
              let handle = FileHandle(forWritingAtPath: path) else { throw CocoaError(.fileWriteUnknown) }
        try handle.seekToEnd()
        return (path, handle)
    }

    func finish(_ hasher: PartialFileHasher, size: Int) async -> [UInt8]? {
        await withCheckedContinuation { done in hasher.finish(size: UInt64(size)) { done.resume(returning: $0) } }
    }

    @Test("Bytes written in pieces while the hash runs give the file's SHA-256",
          arguments: [0, 123_457])  // from byte 0, and resumed with bytes already held
    func writtenInPieces(held: Int) async throws {
        let (path, handle) = try partialFile(holding: bytes[..<held])
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        let hasher = try #require(PartialFileHasher.reading(path))
        hasher.written(upTo: UInt64(held))
        var offset = held
        while offset < bytes.count {
            let end = min(offset + 65_494, bytes.count)
            try handle.write(contentsOf: bytes[offset..<end])
            hasher.written(upTo: UInt64(end))
            offset = end
        }
        try handle.close()
        #expect(await finish(hasher, size: bytes.count) == HashFunction.sha256.hash(bytes))
    }

    @Test func aFileShorterThanItsSizeHasNoHash() async throws {
        let (path, handle) = try partialFile(holding: bytes[..<1000])
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        try handle.close()
        let hasher = try #require(PartialFileHasher.reading(path))
        hasher.written(upTo: 1000)
        #expect(await finish(hasher, size: 1001) == nil)
    }

    @Test func aSymlinkIsNotFollowed() throws {
        let (path, handle) = try partialFile(holding: bytes[..<10])
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        try handle.close()
        let link = path + ".link"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: path)
        #expect(PartialFileHasher.reading(link) == nil)
    }
}
