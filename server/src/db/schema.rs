//! Tables, as in `migrations/*/…_init/up.sql` (the same on both backends).

diesel::table! {
    /// Keyed by grid first (the distribution column on Citus).
    records (grid, id) {
        id -> Text,
        collection -> Text,
        grid -> Text,
        state -> Text,
        status -> Nullable<Text>,
        level -> Text,
        category -> Nullable<Text>,
        assignee -> Nullable<Text>,
        deadline -> Nullable<BigInt>,
        deleted -> Bool,
        conflicts -> Integer,
        created_at -> BigInt,
        updated_at -> BigInt,
        closed_at -> Nullable<BigInt>,
        last_seq -> BigInt,
        level_since -> BigInt,
        overdue -> Bool,
        flag -> Nullable<Text>,
        planned -> Nullable<Integer>,
        visited -> Nullable<Integer>,
        checkins -> Nullable<Integer>,
        starts_at -> Nullable<BigInt>,
        statutory_deadline -> Nullable<BigInt>,
        level_deadline -> Nullable<BigInt>,
        unplanned -> Nullable<Integer>,
        id_key -> Nullable<Text>,
        label -> Nullable<Text>,
    }
}

diesel::table! {
    /// A supervisor's decision on residents sharing an ID number.
    duplicate_decisions (id_key) {
        id_key -> Text,
        decision -> Text,
        decided_by -> BigInt,
        decided_at -> BigInt,
    }
}

diesel::table! {
    changes (grid, seq) {
        seq -> BigInt,
        record_id -> Text,
        grid -> Text,
        actor -> BigInt,
        actor_seq -> BigInt,
        batch_id -> Text,
        received_at -> BigInt,
        body -> Text,
        collection -> Text,
    }
}

diesel::table! {
    /// The newest position of each grid's log.
    grid_heads (grid) {
        grid -> Text,
        seq -> BigInt,
    }
}

diesel::table! {
    /// The newest sequence of each actor applied in each grid.
    actor_heads (grid, actor) {
        grid -> Text,
        actor -> BigInt,
        seq -> BigInt,
    }
}

diesel::table! {
    quarantine (id) {
        id -> BigInt,
        actor -> Nullable<BigInt>,
        actor_seq -> Nullable<BigInt>,
        record_id -> Nullable<Text>,
        grid -> Nullable<Text>,
        batch_id -> Text,
        received_at -> BigInt,
        code -> Text,
        message -> Text,
        body -> Text,
        resolution -> Nullable<Text>,
        resolved_by -> Nullable<BigInt>,
        resolved_at -> Nullable<BigInt>,
    }
}

diesel::allow_tables_to_appear_in_same_query!(records, changes, actor_heads, quarantine);

diesel::table! {
    org_nodes (code) {
        code -> Text,
        parent -> Nullable<Text>,
        level -> Text,
        name -> Text,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    users (id) {
        id -> BigInt,
        username -> Text,
        full_name -> Text,
        password_hash -> Text,
        role -> Text,
        node -> Text,
        disabled -> Bool,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    devices (id) {
        id -> Text,
        user_id -> BigInt,
        actor -> BigInt,
        name -> Text,
        created_at -> BigInt,
        revoked_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    /// When each device last synced (migration 000015_device_last_sync).
    device_syncs (device_id) {
        device_id -> Text,
        at -> BigInt,
    }
}

diesel::table! {
    refresh_tokens (hash) {
        hash -> Text,
        family -> Text,
        user_id -> BigInt,
        device_id -> Nullable<Text>,
        issued_at -> BigInt,
        expires_at -> BigInt,
        used_at -> Nullable<BigInt>,
        revoked_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    audit_log (id) {
        id -> BigInt,
        at -> BigInt,
        user_id -> Nullable<BigInt>,
        username -> Text,
        device_id -> Nullable<Text>,
        address -> Nullable<Text>,
        action -> Text,
        target -> Text,
        detail -> Text,
    }
}

diesel::table! {
    settings (key) {
        key -> Text,
        value -> Text,
    }
}

diesel::allow_tables_to_appear_in_same_query!(org_nodes, users, devices, refresh_tokens, audit_log);

diesel::table! {
    /// The stock of records per report key (migration 000005_report_stock).
    report_stock (grid, collection, level, status, category, open, overdue, conflicted) {
        grid -> Text,
        collection -> Text,
        level -> Text,
        status -> Text,
        category -> Text,
        open -> Bool,
        overdue -> Bool,
        conflicted -> Bool,
        n -> BigInt,
    }
}

diesel::table! {
    /// Attachments received whole and verified (migration 000006_attachments).
    attachments (sha256) {
        sha256 -> Text,
        media_type -> Text,
        size -> BigInt,
        stored_at -> BigInt,
        user_id -> BigInt,
        device -> Text,
    }
}

diesel::table! {
    /// Which records refer to which attachment.
    attachment_refs (grid, sha256, record_id) {
        sha256 -> Text,
        record_id -> Text,
        grid -> Text,
        collection -> Text,
        media_type -> Text,
        size -> BigInt,
    }
}

diesel::table! {
    /// Uploads under way.
    uploads (id) {
        id -> Text,
        sha256 -> Text,
        device -> Text,
        user_id -> BigInt,
        media_type -> Text,
        size -> BigInt,
        received -> BigInt,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    /// Bytes each device sent per day.
    upload_days (device, day) {
        device -> Text,
        day -> Text,
        bytes -> BigInt,
    }
}

diesel::allow_tables_to_appear_in_same_query!(attachments, attachment_refs, uploads);

diesel::table! {
    /// Where a department's system takes events (docs/WEBHOOKS.md).
    webhooks (id) {
        id -> BigInt,
        department -> Text,
        url -> Text,
        secret -> Text,
        active -> Bool,
        created_at -> BigInt,
    }
}

diesel::table! {
    /// An event for a webhook, and its delivery so far.
    webhook_deliveries (id) {
        id -> BigInt,
        webhook_id -> BigInt,
        event -> Text,
        record_id -> Text,
        body -> Text,
        created_at -> BigInt,
        attempts -> Integer,
        next_at -> BigInt,
        state -> Text,
        last_status -> Nullable<Integer>,
        last_error -> Nullable<Text>,
        delivered_at -> Nullable<BigInt>,
    }
}

diesel::allow_tables_to_appear_in_same_query!(webhooks, webhook_deliveries);
