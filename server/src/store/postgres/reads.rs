//! Orders by code and where a waiting-room ticket stands, read through sqlx (shared SQL).

crate::store::sql_reads::sql_reads!(sqlx::PgConnection);
