using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

#pragma warning disable CA1814 // Prefer jagged arrays over multidimensional

namespace BluesMinds.Gateway.Data.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class Initial : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "audit_logs",
                columns: table => new
                {
                    id = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    actor_user_id = table.Column<Guid>(type: "TEXT", nullable: true),
                    action = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    target_type = table.Column<string>(type: "TEXT", maxLength: 32, nullable: true),
                    target_id = table.Column<string>(type: "TEXT", maxLength: 64, nullable: true),
                    ip_address = table.Column<string>(type: "TEXT", maxLength: 45, nullable: true),
                    user_agent = table.Column<string>(type: "TEXT", maxLength: 512, nullable: true),
                    details = table.Column<string>(type: "TEXT", maxLength: 4000, nullable: true),
                    created_at = table.Column<DateTime>(type: "TEXT", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_audit_logs", x => x.id);
                });

            migrationBuilder.CreateTable(
                name: "billing_plans",
                columns: table => new
                {
                    id = table.Column<int>(type: "INTEGER", nullable: false),
                    code = table.Column<string>(type: "TEXT", maxLength: 32, nullable: false),
                    name = table.Column<string>(type: "TEXT", maxLength: 100, nullable: false),
                    price_monthly_cents = table.Column<long>(type: "INTEGER", nullable: false),
                    currency = table.Column<string>(type: "TEXT", maxLength: 3, nullable: false),
                    requests_per_minute = table.Column<int>(type: "INTEGER", nullable: false),
                    tokens_per_minute = table.Column<int>(type: "INTEGER", nullable: false),
                    concurrent_requests = table.Column<int>(type: "INTEGER", nullable: false),
                    monthly_token_quota = table.Column<long>(type: "INTEGER", nullable: false),
                    is_active = table.Column<bool>(type: "INTEGER", nullable: false),
                    sort_order = table.Column<int>(type: "INTEGER", nullable: false),
                    created_at = table.Column<DateTime>(type: "TEXT", nullable: false),
                    updated_at = table.Column<DateTime>(type: "TEXT", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_billing_plans", x => x.id);
                    table.CheckConstraint("ck_billing_plans_limits", "requests_per_minute >= 0 AND tokens_per_minute >= 0 AND concurrent_requests >= 0 AND monthly_token_quota >= 0");
                    table.CheckConstraint("ck_billing_plans_price", "price_monthly_cents >= 0");
                });

            migrationBuilder.CreateTable(
                name: "litellm_servers",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "TEXT", nullable: false),
                    name = table.Column<string>(type: "TEXT", maxLength: 100, nullable: false),
                    base_url = table.Column<string>(type: "TEXT", maxLength: 2048, nullable: false),
                    api_key_encrypted = table.Column<byte[]>(type: "BLOB", nullable: true),
                    weight = table.Column<int>(type: "INTEGER", nullable: false),
                    priority = table.Column<int>(type: "INTEGER", nullable: false),
                    supported_models = table.Column<string>(type: "TEXT", nullable: false),
                    enabled = table.Column<bool>(type: "INTEGER", nullable: false),
                    health_status = table.Column<string>(type: "TEXT", maxLength: 16, nullable: false),
                    last_health_check_at = table.Column<DateTime>(type: "TEXT", nullable: true),
                    last_latency_ms = table.Column<int>(type: "INTEGER", nullable: true),
                    last_error = table.Column<string>(type: "TEXT", maxLength: 1000, nullable: true),
                    created_at = table.Column<DateTime>(type: "TEXT", nullable: false),
                    updated_at = table.Column<DateTime>(type: "TEXT", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_litellm_servers", x => x.id);
                    table.CheckConstraint("ck_litellm_servers_priority", "priority >= 0");
                    table.CheckConstraint("ck_litellm_servers_weight", "weight >= 0");
                });

            migrationBuilder.CreateTable(
                name: "stripe_webhook_events",
                columns: table => new
                {
                    event_id = table.Column<string>(type: "TEXT", maxLength: 255, nullable: false),
                    type = table.Column<string>(type: "TEXT", maxLength: 100, nullable: false),
                    processed_at = table.Column<DateTime>(type: "TEXT", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_stripe_webhook_events", x => x.event_id);
                });

            migrationBuilder.CreateTable(
                name: "usage_logs",
                columns: table => new
                {
                    id = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    request_id = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    user_id = table.Column<Guid>(type: "TEXT", nullable: true),
                    api_key_id = table.Column<Guid>(type: "TEXT", nullable: true),
                    endpoint = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    model_requested = table.Column<string>(type: "TEXT", maxLength: 200, nullable: true),
                    model_served = table.Column<string>(type: "TEXT", maxLength: 200, nullable: true),
                    server_id = table.Column<Guid>(type: "TEXT", nullable: true),
                    prompt_tokens = table.Column<int>(type: "INTEGER", nullable: false),
                    completion_tokens = table.Column<int>(type: "INTEGER", nullable: false),
                    cached_tokens = table.Column<int>(type: "INTEGER", nullable: false),
                    total_tokens = table.Column<int>(type: "INTEGER", nullable: false),
                    tokens_estimated = table.Column<bool>(type: "INTEGER", nullable: false),
                    cost_micros = table.Column<long>(type: "INTEGER", nullable: false),
                    latency_ms = table.Column<int>(type: "INTEGER", nullable: false),
                    time_to_first_byte_ms = table.Column<int>(type: "INTEGER", nullable: true),
                    streamed = table.Column<bool>(type: "INTEGER", nullable: false),
                    client_disconnected = table.Column<bool>(type: "INTEGER", nullable: false),
                    status_code = table.Column<int>(type: "INTEGER", nullable: false),
                    error_code = table.Column<string>(type: "TEXT", maxLength: 64, nullable: true),
                    created_at = table.Column<DateTime>(type: "TEXT", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_usage_logs", x => x.id);
                    table.CheckConstraint("ck_usage_logs_cost", "cost_micros >= 0");
                    table.CheckConstraint("ck_usage_logs_tokens", "prompt_tokens >= 0 AND completion_tokens >= 0 AND cached_tokens >= 0 AND total_tokens >= 0");
                });

            migrationBuilder.CreateTable(
                name: "users",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "TEXT", nullable: false),
                    email = table.Column<string>(type: "TEXT", maxLength: 320, nullable: false),
                    password_hash = table.Column<string>(type: "TEXT", maxLength: 100, nullable: false),
                    full_name = table.Column<string>(type: "TEXT", maxLength: 200, nullable: true),
                    role = table.Column<string>(type: "TEXT", maxLength: 16, nullable: false),
                    status = table.Column<string>(type: "TEXT", maxLength: 16, nullable: false),
                    plan_id = table.Column<int>(type: "INTEGER", nullable: false),
                    session_version = table.Column<int>(type: "INTEGER", nullable: false),
                    stripe_customer_id = table.Column<string>(type: "TEXT", maxLength: 64, nullable: true),
                    created_at = table.Column<DateTime>(type: "TEXT", nullable: false),
                    updated_at = table.Column<DateTime>(type: "TEXT", nullable: false),
                    last_login_at = table.Column<DateTime>(type: "TEXT", nullable: true),
                    suspended_at = table.Column<DateTime>(type: "TEXT", nullable: true),
                    deleted_at = table.Column<DateTime>(type: "TEXT", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_users", x => x.id);
                    table.CheckConstraint("ck_users_role", "role IN ('user', 'admin')");
                    table.CheckConstraint("ck_users_status", "status IN ('active', 'suspended', 'deleted')");
                    table.ForeignKey(
                        name: "fk_users_billing_plans_plan_id",
                        column: x => x.plan_id,
                        principalTable: "billing_plans",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Restrict);
                });

            migrationBuilder.CreateTable(
                name: "api_keys",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "TEXT", nullable: false),
                    user_id = table.Column<Guid>(type: "TEXT", nullable: false),
                    name = table.Column<string>(type: "TEXT", maxLength: 100, nullable: false),
                    key_hash = table.Column<byte[]>(type: "BLOB", maxLength: 32, nullable: false),
                    prefix = table.Column<string>(type: "TEXT", maxLength: 16, nullable: false),
                    last_four = table.Column<string>(type: "TEXT", maxLength: 4, nullable: false),
                    allowed_models = table.Column<string>(type: "TEXT", nullable: false),
                    expires_at = table.Column<DateTime>(type: "TEXT", nullable: true),
                    revoked_at = table.Column<DateTime>(type: "TEXT", nullable: true),
                    last_used_at = table.Column<DateTime>(type: "TEXT", nullable: true),
                    created_at = table.Column<DateTime>(type: "TEXT", nullable: false),
                    updated_at = table.Column<DateTime>(type: "TEXT", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_api_keys", x => x.id);
                    table.ForeignKey(
                        name: "fk_api_keys_users_user_id",
                        column: x => x.user_id,
                        principalTable: "users",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "invoices",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "TEXT", nullable: false),
                    user_id = table.Column<Guid>(type: "TEXT", nullable: false),
                    stripe_invoice_id = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    plan_id = table.Column<int>(type: "INTEGER", nullable: true),
                    status = table.Column<string>(type: "TEXT", maxLength: 32, nullable: false),
                    amount_due_cents = table.Column<long>(type: "INTEGER", nullable: false),
                    amount_paid_cents = table.Column<long>(type: "INTEGER", nullable: false),
                    currency = table.Column<string>(type: "TEXT", maxLength: 3, nullable: false),
                    period_start = table.Column<DateTime>(type: "TEXT", nullable: true),
                    period_end = table.Column<DateTime>(type: "TEXT", nullable: true),
                    hosted_invoice_url = table.Column<string>(type: "TEXT", maxLength: 2048, nullable: true),
                    created_at = table.Column<DateTime>(type: "TEXT", nullable: false),
                    updated_at = table.Column<DateTime>(type: "TEXT", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_invoices", x => x.id);
                    table.CheckConstraint("ck_invoices_amounts", "amount_due_cents >= 0 AND amount_paid_cents >= 0");
                    table.ForeignKey(
                        name: "fk_invoices_billing_plans_plan_id",
                        column: x => x.plan_id,
                        principalTable: "billing_plans",
                        principalColumn: "id",
                        onDelete: ReferentialAction.SetNull);
                    table.ForeignKey(
                        name: "fk_invoices_users_user_id",
                        column: x => x.user_id,
                        principalTable: "users",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "rate_limits",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "TEXT", nullable: false),
                    scope = table.Column<string>(type: "TEXT", maxLength: 8, nullable: false),
                    plan_id = table.Column<int>(type: "INTEGER", nullable: true),
                    user_id = table.Column<Guid>(type: "TEXT", nullable: true),
                    api_key_id = table.Column<Guid>(type: "TEXT", nullable: true),
                    requests_per_minute = table.Column<int>(type: "INTEGER", nullable: true),
                    tokens_per_minute = table.Column<int>(type: "INTEGER", nullable: true),
                    concurrent_requests = table.Column<int>(type: "INTEGER", nullable: true),
                    monthly_token_quota = table.Column<long>(type: "INTEGER", nullable: true),
                    created_at = table.Column<DateTime>(type: "TEXT", nullable: false),
                    updated_at = table.Column<DateTime>(type: "TEXT", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_rate_limits", x => x.id);
                    table.CheckConstraint("ck_rate_limits_scope", "scope IN ('plan', 'user', 'key')");
                    table.CheckConstraint("ck_rate_limits_target", "(scope = 'plan' AND plan_id IS NOT NULL AND user_id IS NULL AND api_key_id IS NULL) OR (scope = 'user' AND user_id IS NOT NULL AND plan_id IS NULL AND api_key_id IS NULL) OR (scope = 'key' AND api_key_id IS NOT NULL AND plan_id IS NULL AND user_id IS NULL)");
                    table.CheckConstraint("ck_rate_limits_values", "(requests_per_minute IS NULL OR requests_per_minute >= 0) AND (tokens_per_minute IS NULL OR tokens_per_minute >= 0) AND (concurrent_requests IS NULL OR concurrent_requests >= 0) AND (monthly_token_quota IS NULL OR monthly_token_quota >= 0)");
                    table.ForeignKey(
                        name: "fk_rate_limits_api_keys_api_key_id",
                        column: x => x.api_key_id,
                        principalTable: "api_keys",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                    table.ForeignKey(
                        name: "fk_rate_limits_billing_plans_plan_id",
                        column: x => x.plan_id,
                        principalTable: "billing_plans",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                    table.ForeignKey(
                        name: "fk_rate_limits_users_user_id",
                        column: x => x.user_id,
                        principalTable: "users",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "payment_transactions",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "TEXT", nullable: false),
                    user_id = table.Column<Guid>(type: "TEXT", nullable: false),
                    invoice_id = table.Column<Guid>(type: "TEXT", nullable: true),
                    stripe_payment_intent_id = table.Column<string>(type: "TEXT", maxLength: 64, nullable: true),
                    amount_cents = table.Column<long>(type: "INTEGER", nullable: false),
                    currency = table.Column<string>(type: "TEXT", maxLength: 3, nullable: false),
                    status = table.Column<string>(type: "TEXT", maxLength: 32, nullable: false),
                    failure_reason = table.Column<string>(type: "TEXT", maxLength: 500, nullable: true),
                    created_at = table.Column<DateTime>(type: "TEXT", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_payment_transactions", x => x.id);
                    table.CheckConstraint("ck_payment_transactions_amount", "amount_cents >= 0");
                    table.ForeignKey(
                        name: "fk_payment_transactions_invoices_invoice_id",
                        column: x => x.invoice_id,
                        principalTable: "invoices",
                        principalColumn: "id",
                        onDelete: ReferentialAction.SetNull);
                    table.ForeignKey(
                        name: "fk_payment_transactions_users_user_id",
                        column: x => x.user_id,
                        principalTable: "users",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.InsertData(
                table: "billing_plans",
                columns: new[] { "id", "code", "concurrent_requests", "created_at", "currency", "is_active", "monthly_token_quota", "name", "price_monthly_cents", "requests_per_minute", "sort_order", "tokens_per_minute", "updated_at" },
                values: new object[,]
                {
                    { 1, "free", 2, new DateTime(2026, 1, 1, 0, 0, 0, 0, DateTimeKind.Utc), "usd", true, 100000L, "Free", 0L, 20, 1, 40000, new DateTime(2026, 1, 1, 0, 0, 0, 0, DateTimeKind.Utc) },
                    { 2, "starter", 5, new DateTime(2026, 1, 1, 0, 0, 0, 0, DateTimeKind.Utc), "usd", true, 2000000L, "Starter", 2900L, 60, 2, 200000, new DateTime(2026, 1, 1, 0, 0, 0, 0, DateTimeKind.Utc) },
                    { 3, "pro", 20, new DateTime(2026, 1, 1, 0, 0, 0, 0, DateTimeKind.Utc), "usd", true, 10000000L, "Pro", 9900L, 300, 3, 1000000, new DateTime(2026, 1, 1, 0, 0, 0, 0, DateTimeKind.Utc) },
                    { 4, "enterprise", 50, new DateTime(2026, 1, 1, 0, 0, 0, 0, DateTimeKind.Utc), "usd", true, 50000000L, "Enterprise", 29900L, 1000, 4, 5000000, new DateTime(2026, 1, 1, 0, 0, 0, 0, DateTimeKind.Utc) }
                });

            migrationBuilder.CreateIndex(
                name: "ix_api_keys_key_hash",
                table: "api_keys",
                column: "key_hash",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "ix_api_keys_user_id_created_at",
                table: "api_keys",
                columns: new[] { "user_id", "created_at" });

            migrationBuilder.CreateIndex(
                name: "ix_audit_logs_action_created_at",
                table: "audit_logs",
                columns: new[] { "action", "created_at" });

            migrationBuilder.CreateIndex(
                name: "ix_audit_logs_actor_user_id_created_at",
                table: "audit_logs",
                columns: new[] { "actor_user_id", "created_at" });

            migrationBuilder.CreateIndex(
                name: "ix_audit_logs_created_at",
                table: "audit_logs",
                column: "created_at");

            migrationBuilder.CreateIndex(
                name: "ix_billing_plans_code",
                table: "billing_plans",
                column: "code",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "ix_invoices_plan_id",
                table: "invoices",
                column: "plan_id");

            migrationBuilder.CreateIndex(
                name: "ix_invoices_stripe_invoice_id",
                table: "invoices",
                column: "stripe_invoice_id",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "ix_invoices_user_id_created_at",
                table: "invoices",
                columns: new[] { "user_id", "created_at" });

            migrationBuilder.CreateIndex(
                name: "ix_litellm_servers_name",
                table: "litellm_servers",
                column: "name",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "ix_payment_transactions_invoice_id",
                table: "payment_transactions",
                column: "invoice_id");

            migrationBuilder.CreateIndex(
                name: "ix_payment_transactions_stripe_payment_intent_id",
                table: "payment_transactions",
                column: "stripe_payment_intent_id");

            migrationBuilder.CreateIndex(
                name: "ix_payment_transactions_user_id_created_at",
                table: "payment_transactions",
                columns: new[] { "user_id", "created_at" });

            migrationBuilder.CreateIndex(
                name: "ix_rate_limits_api_key_id",
                table: "rate_limits",
                column: "api_key_id",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "ix_rate_limits_plan_id",
                table: "rate_limits",
                column: "plan_id",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "ix_rate_limits_user_id",
                table: "rate_limits",
                column: "user_id",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "ix_stripe_webhook_events_processed_at",
                table: "stripe_webhook_events",
                column: "processed_at");

            migrationBuilder.CreateIndex(
                name: "ix_usage_logs_api_key_id_created_at",
                table: "usage_logs",
                columns: new[] { "api_key_id", "created_at" });

            migrationBuilder.CreateIndex(
                name: "ix_usage_logs_created_at",
                table: "usage_logs",
                column: "created_at");

            migrationBuilder.CreateIndex(
                name: "ix_usage_logs_request_id",
                table: "usage_logs",
                column: "request_id",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "ix_usage_logs_user_id_created_at",
                table: "usage_logs",
                columns: new[] { "user_id", "created_at" });

            migrationBuilder.CreateIndex(
                name: "ix_users_email",
                table: "users",
                column: "email",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "ix_users_plan_id",
                table: "users",
                column: "plan_id");

            migrationBuilder.CreateIndex(
                name: "ix_users_stripe_customer_id",
                table: "users",
                column: "stripe_customer_id",
                unique: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "audit_logs");

            migrationBuilder.DropTable(
                name: "litellm_servers");

            migrationBuilder.DropTable(
                name: "payment_transactions");

            migrationBuilder.DropTable(
                name: "rate_limits");

            migrationBuilder.DropTable(
                name: "stripe_webhook_events");

            migrationBuilder.DropTable(
                name: "usage_logs");

            migrationBuilder.DropTable(
                name: "invoices");

            migrationBuilder.DropTable(
                name: "api_keys");

            migrationBuilder.DropTable(
                name: "users");

            migrationBuilder.DropTable(
                name: "billing_plans");
        }
    }
}
