//! abi_stable stamps `CARGO_PKG_NAME` into every type layout and refuses a layout from another
//! package, so this copy must compile under the name contract 0.1.0 shipped with, although its
//! package is renamed to live in the same workspace as today's contract.
fn main() {
    println!("cargo:rustc-env=CARGO_PKG_NAME=crosswatch-contract");
}
