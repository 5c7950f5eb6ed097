namespace BluesMinds.Gateway.Proxy.ModelRouting;

/// <summary>Where a server's circuit stands.</summary>
internal enum CircuitState
{
    Closed,
    Open,
    HalfOpen,
}

/// <summary>
/// Live health of one upstream: the active check's verdict and a circuit breaker fed by real
/// traffic. The circuit opens after <c>CircuitFailureThreshold</c> consecutive failures (one error
/// never removes a server), stays open for <c>CircuitBreakSeconds</c> (or longer if the server said
/// Retry-After), then lets exactly one probe through; its outcome closes or re-opens it.
/// </summary>
internal sealed class ServerHealth
{
    private readonly Lock _lock = new();
    private CircuitState _state = CircuitState.Closed;
    private int _consecutiveFailures;
    private DateTimeOffset _openUntil;
    private bool _probeInFlight;

    /// <summary>Result of the last active check; null until the first one (a new server gets traffic at once).</summary>
    public bool? ActiveCheckHealthy { get; private set; }

    public DateTimeOffset? LastCheckAt { get; private set; }

    public int? LastLatencyMs { get; private set; }

    public string? LastError { get; private set; }

    public CircuitState Circuit
    {
        get
        {
            lock (_lock)
            {
                return _state;
            }
        }
    }

    public int ConsecutiveFailures
    {
        get
        {
            lock (_lock)
            {
                return _consecutiveFailures;
            }
        }
    }

    /// <summary>May a request be sent now? In half-open state only the first caller gets a yes.</summary>
    public bool TryAcquire(DateTimeOffset now)
    {
        if (ActiveCheckHealthy == false)
        {
            return false;
        }

        lock (_lock)
        {
            switch (_state)
            {
                case CircuitState.Closed:
                    return true;
                case CircuitState.Open when now >= _openUntil:
                    _state = CircuitState.HalfOpen;
                    _probeInFlight = true;
                    return true;
                case CircuitState.HalfOpen when !_probeInFlight:
                    _probeInFlight = true;
                    return true;
                default:
                    return false;
            }
        }
    }

    /// <summary>Would a request be allowed now, without taking the half-open probe slot.</summary>
    public bool IsAvailable(DateTimeOffset now)
    {
        if (ActiveCheckHealthy == false)
        {
            return false;
        }

        lock (_lock)
        {
            return _state == CircuitState.Closed || (_state == CircuitState.Open && now >= _openUntil) || (_state == CircuitState.HalfOpen && !_probeInFlight);
        }
    }

    public void RecordSuccess()
    {
        lock (_lock)
        {
            _state = CircuitState.Closed;
            _consecutiveFailures = 0;
            _probeInFlight = false;
        }
    }

    public void RecordFailure(DateTimeOffset now, int threshold, TimeSpan breakFor, TimeSpan? retryAfter = null)
    {
        lock (_lock)
        {
            _consecutiveFailures++;
            var openFor = retryAfter is { } wait && wait > breakFor ? wait : breakFor;
            if (_state == CircuitState.HalfOpen || _consecutiveFailures >= threshold)
            {
                _state = CircuitState.Open;
                _openUntil = now + openFor;
                _probeInFlight = false;
            }
            else if (retryAfter is { } hold && hold > TimeSpan.Zero)
            {
                // The server asked for a pause: honour it without counting it as a broken server yet.
                _state = CircuitState.Open;
                _openUntil = now + hold;
                _probeInFlight = false;
            }
        }
    }

    /// <summary>Releases a half-open probe slot when the request ended without a verdict (client went away).</summary>
    public void ReleaseProbe()
    {
        lock (_lock)
        {
            _probeInFlight = false;
        }
    }

    public void RecordCheck(bool healthy, DateTimeOffset at, int latencyMs, string? error)
    {
        ActiveCheckHealthy = healthy;
        LastCheckAt = at;
        LastLatencyMs = latencyMs;
        LastError = error;
    }
}
