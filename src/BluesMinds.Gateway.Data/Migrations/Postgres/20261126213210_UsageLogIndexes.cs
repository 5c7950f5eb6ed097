using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace BluesMinds.Gateway.Data.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class UsageLogIndexes : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ix_usage_logs_api_key_id_created_at",
                table: "usage_logs");

            migrationBuilder.DropIndex(
                name: "ix_usage_logs_created_at",
                table: "usage_logs");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateIndex(
                name: "ix_usage_logs_api_key_id_created_at",
                table: "usage_logs",
                columns: new[] { "api_key_id", "created_at" });

            migrationBuilder.CreateIndex(
                name: "ix_usage_logs_created_at",
                table: "usage_logs",
                column: "created_at");
        }
    }
}
