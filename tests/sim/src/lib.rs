//! Reference cloud for Roger (being built).
