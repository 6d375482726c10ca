//! `cargo bench -p bench --bench as2`: a 1 GiB signed and encrypted AS2 message into
//! the DMZ, against the memory target (see `bench::as2`). Needs `cargo build
//! --release -p portcullis` (or `PORTCULLIS_BIN`), `openssl` and `curl`.

fn main() -> Result<(), bench::peers::BoxError> {
    println!("## Partner AS2: a large message into the DMZ\n");
    print!("{}", bench::as2::run_case()?);
    Ok(())
}
