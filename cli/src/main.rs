fn main() {
    println!("roger {}", roger_core::VERSION);
}
