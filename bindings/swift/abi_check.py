#!/usr/bin/env python3
"""Checks the generated Swift bindings against the library without a Swift compiler.

It writes a C program that includes the generated `RogerCoreFFI.h` (the header the Swift code
is compiled against), compiles it with the system C compiler and links the library, then:
- compares every checksum and the contract version the `.swift` file expects with what the
  library reports (a stale or mismatched binding fails here, as it would at Swift start-up);
- calls a sync export, an async export (poll / complete / free through the Rust future ABI)
  and a foreign-trait method implemented in C behind a vtable, as the Swift runtime does.

Usage: abi_check.py SWIFT_DIR LIBRARY_DIR [CC]
"""

import pathlib
import re
import subprocess
import sys
import tempfile

C_CALLS = r"""
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static volatile int poll_ready = -1;
static void on_poll(uint64_t data, int8_t result) { (void)data; poll_ready = result; }

static uint64_t progress_done = 0, progress_total = 0, freed = 0;
static void vt_free(uint64_t handle) { (void)handle; freed++; }
static uint64_t vt_clone(uint64_t handle) { return handle; }
static void vt_on_progress(uint64_t handle, uint64_t done, uint64_t total, void *out, RustCallStatus *status) {
    (void)handle; (void)out; progress_done = done; progress_total = total; status->code = 0;
}
static const UniffiVTableCallbackInterfaceProgressListener vtable = { vt_free, vt_clone, vt_on_progress };

static int calls(void) {
    int failed = 0;
    RustCallStatus status;

    memset(&status, 0, sizeof status);
    uint64_t echoed = uniffi_roger_ffi_fn_func_test_echo_sync(42, &status);
    if (status.code != 0 || echoed != 42) { printf("sync call: code %d value %llu\n", status.code, (unsigned long long)echoed); failed++; }

    uint64_t future = uniffi_roger_ffi_fn_func_test_echo_async(7, 5);
    for (int i = 0; i < 400; i++) {
        poll_ready = -1;
        ffi_roger_ffi_rust_future_poll_u64(future, on_poll, 0);
        while (poll_ready < 0) usleep(1000);
        if (poll_ready == 0) break; /* UNIFFI_RUST_FUTURE_POLL_READY */
    }
    memset(&status, 0, sizeof status);
    uint64_t result = ffi_roger_ffi_rust_future_complete_u64(future, &status);
    ffi_roger_ffi_rust_future_free_u64(future);
    if (status.code != 0 || result != 7) { printf("async call: code %d value %llu\n", status.code, (unsigned long long)result); failed++; }

    uniffi_roger_ffi_fn_init_callback_vtable_progresslistener(&vtable);
    memset(&status, 0, sizeof status);
    /* An odd handle is a foreign object: Rust calls back through the vtable, then frees it. */
    uniffi_roger_ffi_fn_method_progresslistener_on_progress(1, 5, 10, &status);
    if (status.code != 0 || progress_done != 5 || progress_total != 10 || freed != 1) {
        printf("foreign trait: code %d done %llu total %llu freed %llu\n", status.code,
               (unsigned long long)progress_done, (unsigned long long)progress_total, (unsigned long long)freed);
        failed++;
    }
    return failed;
}
"""


def main(swift_dir: str, lib_dir: str, cc: str = "cc") -> int:
    swift_dir_p = pathlib.Path(swift_dir)
    swift = next(swift_dir_p.glob("*.swift")).read_text(encoding="utf-8")
    header = next(swift_dir_p.glob("*FFI.h"))
    contract = re.search(r"let bindings_contract_version = (\d+)", swift)
    checksums = re.findall(r"if \((uniffi_\w+_checksum_\w+)\(\) != (\d+)\)", swift)
    if not contract or not checksums:
        print("the Swift file has no contract version or checksums")
        return 1
    lines = [f'#include "{header.resolve()}"', C_CALLS, "int main(void) {", "    int failed = 0;"]
    lines.append(
        f"    if (ffi_roger_ffi_uniffi_contract_version() != {contract.group(1)}) "
        f'{{ printf("contract version %u, the Swift expects {contract.group(1)}\\n", '
        f"ffi_roger_ffi_uniffi_contract_version()); failed++; }}"
    )
    for name, value in checksums:
        lines.append(
            f'    if ({name}() != {value}) {{ printf("{name}: %u, the Swift expects {value}\\n", {name}()); failed++; }}'
        )
    lines.append("    failed += calls();")
    lines.append(f'    printf("%d of {len(checksums)} checksums and 3 calls failed\\n", failed);')
    lines.append("    return failed ? 1 : 0;")
    lines.append("}")
    with tempfile.TemporaryDirectory() as tmp:
        source = pathlib.Path(tmp) / "abi_check.c"
        source.write_text("\n".join(lines) + "\n")
        binary = pathlib.Path(tmp) / "abi_check"
        # gcc does not know clang's nullability qualifiers.
        subprocess.run(
            [cc, "-std=c11", "-D_DEFAULT_SOURCE", "-D_Nonnull=", "-D_Nullable=", "-Wall", "-Werror",
             "-Wno-unused-function", str(source), "-o", str(binary), f"-L{lib_dir}", "-lroger_ffi",
             f"-Wl,-rpath,{pathlib.Path(lib_dir).resolve()}"],
            check=True,
        )
        print(f"checking {len(checksums)} checksums, the contract version and 3 calls")
        return subprocess.run([str(binary)]).returncode


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
