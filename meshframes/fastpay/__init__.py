"""FastPay: sans-IO authority and client, bincode codec, SQLite store."""
