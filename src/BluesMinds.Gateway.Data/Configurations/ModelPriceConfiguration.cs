using BluesMinds.Gateway.Data.Entities;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace BluesMinds.Gateway.Data.Configurations;

internal sealed class ModelPriceConfiguration : IEntityTypeConfiguration<ModelPrice>
{
    public void Configure(EntityTypeBuilder<ModelPrice> builder)
    {
        builder.ToTable("model_prices", t => t.HasCheckConstraint(
            "ck_model_prices_values",
            "input_micros_per_million >= 0 AND output_micros_per_million >= 0 AND (cached_input_micros_per_million IS NULL OR cached_input_micros_per_million >= 0)"));
        builder.HasKey(p => p.Model);
        builder.Property(p => p.Model).HasMaxLength(200);
    }
}
