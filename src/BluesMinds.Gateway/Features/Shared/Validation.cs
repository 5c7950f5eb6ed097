namespace BluesMinds.Gateway.Features.Shared;

/// <summary>Collects field problems and turns them into one 400 ValidationProblem naming every field and rule.</summary>
internal sealed class Validation
{
    private readonly Dictionary<string, List<string>> _errors = new(StringComparer.Ordinal);

    public bool IsValid => _errors.Count == 0;

    public void Add(string field, string? problem)
    {
        if (problem is null)
        {
            return;
        }

        if (!_errors.TryGetValue(field, out var list))
        {
            _errors[field] = list = [];
        }

        list.Add(problem);
    }

    public IResult ToResult() => TypedResults.ValidationProblem(
        _errors.ToDictionary(e => e.Key, e => e.Value.ToArray()),
        detail: string.Join(" ", _errors.SelectMany(e => e.Value)),
        title: "The request is invalid.");
}
