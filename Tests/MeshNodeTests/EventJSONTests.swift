import Foundation
@testable import MeshNode
import MeshCrypto
import MeshWire
import Testing

@Suite("JSON event lines")
struct EventJSONTests {
    /// Every control character, quotes, backslashes, a slash, DEL, non-ASCII and an emoji.
    static let awkward = String(decoding: (0..<0x20).map { UInt8($0) }, as: UTF8.self)
        + "\"quoted\" back\\slash a/b \u{7F} é ü 日本 👩‍💻 \u{2028}"

    static func events() -> [NodeEvent] {
        let key = SigningPrivateKey().publicKey
        let id = MessageID(bytes: Array(0..<32))
        let text = awkward
        return [
            .ready(key: key, nickname: text, listen: "127.0.0.1:7777"),
            .linkUp(peer: "bob", key: key, address: "[::1]:7777", direction: .inbound, suite: .ikAESGCMSHA256),
            .linkDown(peer: text, reason: "closed by peer: idle"),
            .handshakeFailed(peer: "carol", address: "example.org:1", reason: text),
            .rejected(address: "10.0.0.1:5", reason: "key not pinned", key: key),
            .rejected(address: "10.0.0.1:5", reason: "bad preamble", key: nil),
            .message(ShownMessage(id: id, kind: .room, room: text, from: text, author: key, peer: "bob",
                                  seq: UInt64.max, timestamp: 1_700_000_000_123, hops: 254, text: text)),
            .message(ShownMessage(id: id, kind: .direct, room: nil, from: "x", author: key, peer: nil,
                                  seq: 0, timestamp: 0, hops: 0, text: "")),
            .sent(id: id, kind: .room, room: "general", seq: 1),
            .sent(id: id, kind: .direct, room: nil, seq: 10),
            .error(message: text),
            .file(.offered(id: "00ff", peer: "bob", name: text, size: 50_000_000, hash: "ab")),
            .file(.progress(id: "00ff", peer: "bob", name: "a.bin", direction: .incoming, bytes: 1, size: 2)),
            .file(.received(id: "00ff", peer: "bob", name: "a.bin", path: "/tmp/downloads/a.bin", bytes: 2, hash: "ab")),
            .file(.sent(id: "00ff", peer: "bob", name: "a.bin", bytes: 2, hash: "ab")),
            .file(.failed(id: "00ff", peer: "bob", name: "a.bin", reason: text)),
            .netcatBridge(listen: "127.0.0.1:7000", forward: nil),
            .netcatBridge(listen: "127.0.0.1:7000", forward: "127.0.0.1:7001"),
        ]
    }

    @Test("each event's line is byte-for-byte what JSONSerialization wrote (sorted keys, slashes unescaped)")
    func sameBytesAsJSONSerialization() throws {
        for event in Self.events() {
            let object = try #require(event.jsonObject)
            let expected = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
            var line: [UInt8] = []
            #expect(event.appendJSONLine(to: &line))
            #expect(line.last == UInt8(ascii: "\n"))
            #expect(String(decoding: line.dropLast(), as: UTF8.self) == String(decoding: expected, as: UTF8.self))
            // And it parses back to the same values.
            let parsed = try #require(try JSONSerialization.jsonObject(with: Data(line)) as? NSDictionary)
            #expect(parsed == object as NSDictionary)
        }
    }

    @Test("strings are escaped as RFC 8259 requires and nothing else is")
    func escaping() {
        var writer = JSONObjectWriter()
        writer.field("a", "q\" b\\ n\n t\t r\r b\u{08} f\u{0C} z\u{00} e\u{1F} / \u{7F} é")
        writer.field("b", nil as String?)
        writer.field("c", true)
        writer.field("d", UInt64(0))
        writer.field("e", UInt64.max)
        let text = String(decoding: writer.finish(), as: UTF8.self)
        #expect(text == #"{"a":"q\" b\\ n\n t\t r\r b\b f\f z\u0000 e\u001f / \#u{7F} é","b":null,"c":true,"d":0,"e":18446744073709551615}"#)
    }

    @Test("lines append to what the buffer already holds, and people-only events add nothing")
    func appends() {
        var buffer = Array("x\n".utf8)
        #expect(!NodeEvent.notice("for people").appendJSONLine(to: &buffer))
        #expect(buffer == Array("x\n".utf8))
        #expect(NodeEvent.error(message: "one").appendJSONLine(to: &buffer))
        #expect(NodeEvent.error(message: "two").appendJSONLine(to: &buffer))
        #expect(String(decoding: buffer, as: UTF8.self) == "x\n{\"event\":\"error\",\"message\":\"one\"}\n{\"event\":\"error\",\"message\":\"two\"}\n")
        #expect(NodeEvent.notice("for people").jsonLine == nil)
        #expect(NodeEvent.error(message: "one").jsonLine == "{\"event\":\"error\",\"message\":\"one\"}")
    }
}
