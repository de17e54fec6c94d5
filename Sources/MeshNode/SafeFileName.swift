/// The name a received file gets in `downloads/`, made from the name its sender offered.
///
/// Nothing of the offered name is trusted as a path: only its last component is kept, with no
/// `..`, no leading dot (no hidden files, no `.bashrc`), no control characters or separators, and
/// a bounded length, so the file always lands directly inside `downloads/`.
public enum SafeFileName {
    /// The longest safe name in UTF-8 bytes, leaving room under NAME_MAX (255) for a `-NNNN` suffix.
    public static let maxBytes = 200
    /// The name used when nothing of the offered one survives.
    public static let fallback = "file"

    /// A safe name for `offered`.
    public static func make(from offered: String) -> String {
        // The last component, whichever separator the sender's system uses.
        let last = offered.split(omittingEmptySubsequences: false) { $0 == "/" || $0 == "\\" }.last.map(String.init) ?? ""
        var scalars = String.UnicodeScalarView()
        for scalar in last.unicodeScalars where !isUnsafe(scalar) { scalars.append(scalar) }
        var name = String(scalars)
        // Leading dots would hide the file (or make it `..`); edge spaces only confuse people.
        while let first = name.first, first == "." || first.isWhitespace { name.removeFirst() }
        while let lastCharacter = name.last, lastCharacter.isWhitespace { name.removeLast() }
        name = truncated(name)
        return name.isEmpty ? fallback : name
    }

    /// `name` if `exists` says it is free, else `stem-1.ext`, `stem-2.ext`, ... up to `attempts`.
    public static func unique(_ name: String, attempts: Int = 10_000, exists: (String) -> Bool) -> String? {
        if !exists(name) { return name }
        let (stem, suffix) = split(name)
        for number in 1..<attempts {
            let candidate = "\(stem)-\(number)\(suffix)"
            if !exists(candidate) { return candidate }
        }
        return nil
    }

    /// Control characters (Unicode Cc), separators, and bidirectional overrides that would make a
    /// name read differently from what it is (`evil\u{202E}txt.exe`).
    static func isUnsafe(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00...0x1F, 0x7F...0x9F: true
        case 0x2F, 0x5C: true // "/" and "\"
        case 0x202A...0x202E, 0x2066...0x2069: true
        default: false
        }
    }

    /// `name` cut to `maxBytes` at a character boundary, keeping a short extension.
    private static func truncated(_ name: String) -> String {
        guard name.utf8.count > maxBytes else { return name }
        let (stem, suffix) = split(name)
        let keep = suffix.utf8.count <= 16 ? suffix : ""
        var cut = ""
        for character in stem {
            if cut.utf8.count + character.utf8.count + keep.utf8.count > maxBytes { break }
            cut.append(character)
        }
        return cut + keep
    }

    /// The name before its last dot, and the dot and extension (empty when there is none).
    private static func split(_ name: String) -> (stem: String, suffix: String) {
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return (name, "") }
        return (String(name[..<dot]), String(name[dot...]))
    }
}
