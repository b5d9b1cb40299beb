pub mod health;
pub mod trunks;
