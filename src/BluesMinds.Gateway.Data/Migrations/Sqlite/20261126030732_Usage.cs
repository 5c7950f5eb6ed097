using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace BluesMinds.Gateway.Data.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class Usage : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "model_prices",
                columns: table => new
                {
                    model = table.Column<string>(type: "TEXT", maxLength: 200, nullable: false),
                    input_micros_per_million = table.Column<long>(type: "INTEGER", nullable: false),
                    cached_input_micros_per_million = table.Column<long>(type: "INTEGER", nullable: true),
                    output_micros_per_million = table.Column<long>(type: "INTEGER", nullable: false),
                    updated_at = table.Column<DateTime>(type: "TEXT", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_model_prices", x => x.model);
                    table.CheckConstraint("ck_model_prices_values", "input_micros_per_million >= 0 AND output_micros_per_million >= 0 AND (cached_input_micros_per_million IS NULL OR cached_input_micros_per_million >= 0)");
                });

            migrationBuilder.CreateTable(
                name: "usage_daily",
                columns: table => new
                {
                    id = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    user_id = table.Column<Guid>(type: "TEXT", nullable: false),
                    api_key_id = table.Column<Guid>(type: "TEXT", nullable: false),
                    model = table.Column<string>(type: "TEXT", maxLength: 200, nullable: false),
                    day = table.Column<DateOnly>(type: "TEXT", nullable: false),
                    requests = table.Column<long>(type: "INTEGER", nullable: false),
                    error_requests = table.Column<long>(type: "INTEGER", nullable: false),
                    prompt_tokens = table.Column<long>(type: "INTEGER", nullable: false),
                    completion_tokens = table.Column<long>(type: "INTEGER", nullable: false),
                    cached_tokens = table.Column<long>(type: "INTEGER", nullable: false),
                    total_tokens = table.Column<long>(type: "INTEGER", nullable: false),
                    cost_micros = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_usage_daily", x => x.id);
                    table.CheckConstraint("ck_usage_daily_values", "requests >= 0 AND error_requests >= 0 AND prompt_tokens >= 0 AND completion_tokens >= 0 AND cached_tokens >= 0 AND total_tokens >= 0 AND cost_micros >= 0");
                });

            migrationBuilder.CreateIndex(
                name: "ix_usage_daily_day",
                table: "usage_daily",
                column: "day");

            migrationBuilder.CreateIndex(
                name: "ix_usage_daily_user_id_day_api_key_id_model",
                table: "usage_daily",
                columns: new[] { "user_id", "day", "api_key_id", "model" },
                unique: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "model_prices");

            migrationBuilder.DropTable(
                name: "usage_daily");
        }
    }
}
