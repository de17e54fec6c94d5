import FuzzHarness

/// libFuzzer's callback for the `file-messages` target: one input, never a trap.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    FuzzTarget.fileMessages.run(size == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

/// The process entry point. SwiftPM links an executable target's `main` to `MODULE_main` on Linux,
/// so this hands the command line to libFuzzer's driver (libFuzzer's own `main` is then unused).
@_cdecl("fuzz_file_messages_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runLibFuzzer(argc, argv, fuzzOneInput)
}
