@testable import MeshNode
import Testing

/// The forwarder's queue: order kept, bounded, and the message on its way never lost to a drop.
@Suite struct NetcatOutboxTests {
    static func m(_ text: String) -> [UInt8] { Array(text.utf8) }

    @Test func messagesGoOutInOrderAndAFailedOneIsSentAgainFirst() {
        var outbox = NetcatOutbox(capacity: 4)
        for text in ["one", "two"] {
            let dropped = outbox.append(Self.m(text))
            #expect(!dropped)
        }
        let first = outbox.takeHead()
        #expect(first?.plaintext == Self.m("one") && first?.ciphertext == nil)
        let whileInFlight = outbox.takeHead()
        #expect(whileInFlight == nil) // one at a time
        outbox.headCiphertext = "U2FsdGVkX1..."
        outbox.failed()
        let again = outbox.takeHead()
        #expect(again?.plaintext == Self.m("one") && again?.ciphertext == "U2FsdGVkX1...") // same salt, PBKDF2 not run again
        outbox.delivered()
        let second = outbox.takeHead()
        #expect(second?.plaintext == Self.m("two") && second?.ciphertext == nil)
        outbox.delivered()
        let afterAll = outbox.takeHead()
        #expect(afterAll == nil)
    }

    @Test func whenFullTheOldestWaitingIsDroppedNeverTheOneInFlight() {
        var outbox = NetcatOutbox(capacity: 3)
        for text in ["one", "two", "three"] { _ = outbox.append(Self.m(text)) }
        let inFlight = outbox.takeHead() // "one" is on its way
        #expect(inFlight?.plaintext == Self.m("one"))
        let dropped = outbox.append(Self.m("four"))
        #expect(dropped && outbox.messages.count == 3)
        outbox.delivered() // removes "one"; "two" was the one dropped
        let next = outbox.takeHead()
        #expect(next?.plaintext == Self.m("three"))
        outbox.delivered()
        let last = outbox.takeHead()
        #expect(last?.plaintext == Self.m("four"))
    }

    @Test func whenFullAndNothingInFlightTheHeadGoesWithItsCiphertext() {
        var outbox = NetcatOutbox(capacity: 2)
        _ = outbox.append(Self.m("one"))
        _ = outbox.append(Self.m("two"))
        _ = outbox.takeHead()
        outbox.headCiphertext = "ciphertext of one"
        outbox.failed() // waiting for a retry
        let dropped = outbox.append(Self.m("three"))
        #expect(dropped)
        let head = outbox.takeHead()
        #expect(head?.plaintext == Self.m("two") && head?.ciphertext == nil)
    }

    @Test func theQueueNeverHoldsMoreThanItsCapacity() {
        var outbox = NetcatOutbox(capacity: NetcatForwarder.maximumQueuedMessages)
        for index in 0..<10_000 { _ = outbox.append(Self.m("message \(index)")) }
        #expect(outbox.messages.count == NetcatForwarder.maximumQueuedMessages)
        #expect(outbox.messages.last == Self.m("message 9999"))
    }
}
