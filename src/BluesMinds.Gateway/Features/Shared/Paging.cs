namespace BluesMinds.Gateway.Features.Shared;

/// <summary>Page parameters shared by list endpoints: <c>page</c> from 1, <c>page_size</c> 1–100 (default 20).</summary>
internal readonly record struct Paging(int Page, int PageSize)
{
    public const int MaxPageSize = 100;

    public int Skip => (Page - 1) * PageSize;

    public static bool TryCreate(int? page, int? pageSize, Validation validation, out Paging paging)
    {
        paging = new Paging(page ?? 1, pageSize ?? 20);
        if (paging.Page < 1)
        {
            validation.Add("page", "page must be 1 or more.");
        }

        if (paging.PageSize is < 1 or > MaxPageSize)
        {
            validation.Add("page_size", $"page_size must be between 1 and {MaxPageSize}.");
        }

        return validation.IsValid;
    }
}

/// <summary>A page of results with the total, so clients can render pagers.</summary>
internal sealed record PagedList<T>(IReadOnlyList<T> Data, int Page, int PageSize, int Total);
