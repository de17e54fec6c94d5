/// The one impure part of MeshChatUI: switching the controlling terminal into raw mode and back.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Why the terminal could not be put into raw mode.
public enum RawTerminalError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Standard input is not a terminal (a pipe or a file): use line mode instead.
    case notATerminal
    /// `tcgetattr` or `tcsetattr` failed with this errno.
    case attributesFailed(errno: Int32)

    /// One sentence for the person at the terminal.
    public var description: String {
        switch self {
        case .notATerminal:
            "Standard input is not a terminal, so the interactive editor is off: pipe lines in or use --json."
        case .attributesFailed(let code):
            "The terminal could not be switched to raw mode (errno \(code)): run meshchat start with --json to read plain lines instead."
        }
    }
}

/// Standard input in raw mode, keeping the settings it found so `restore()` can put them back.
///
/// Raw here means: no line buffering, no echo, no signals from Ctrl-C/Ctrl-Z, no CR-to-LF or
/// XON/XOFF translation, so `LineEditor` sees every key. Output processing stays on, so a stray
/// "\n" written by something else still starts a new line at column 0.
public struct RawTerminal: Sendable {
    private static let standardInput: Int32 = 0
    private static let standardOutput: Int32 = 1

    private let original: termios

    /// Whether standard input and standard output are both terminals, so the interactive editor can run.
    public static var isInteractive: Bool {
        isatty(standardInput) == 1 && isatty(standardOutput) == 1
    }

    /// Columns of the terminal on standard output, or nil when it cannot be told.
    public static var columns: Int? {
        var size = winsize()
        guard ioctl(standardOutput, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return nil }
        return Int(size.ws_col)
    }

    /// Switches standard input to raw mode; call `restore()` before exiting, on every path.
    public static func enter() throws(RawTerminalError) -> RawTerminal {
        guard isatty(standardInput) == 1 else { throw .notATerminal }
        var attributes = termios()
        guard tcgetattr(standardInput, &attributes) == 0 else { throw .attributesFailed(errno: errno) }
        let saved = attributes
        attributes.c_iflag &= ~tcflag_t(BRKINT | ICRNL | INPCK | ISTRIP | IXON)
        attributes.c_cflag |= tcflag_t(CS8)
        attributes.c_lflag &= ~tcflag_t(ECHO | ICANON | IEXTEN | ISIG)
        // Block until one byte is there: a read returns as soon as anything was typed.
        withUnsafeMutableBytes(of: &attributes.c_cc) { controlCharacters in
            controlCharacters[Int(VMIN)] = 1
            controlCharacters[Int(VTIME)] = 0
        }
        guard tcsetattr(standardInput, TCSAFLUSH, &attributes) == 0 else { throw .attributesFailed(errno: errno) }
        return RawTerminal(original: saved)
    }

    /// Puts back the settings found by `enter()`; calling it twice is harmless.
    public func restore() {
        var attributes = original
        // Nothing useful can be done if this fails while exiting; the shell's `reset` remains.
        _ = tcsetattr(Self.standardInput, TCSAFLUSH, &attributes)
    }
}
