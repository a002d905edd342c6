using System.Net;
using Convnet.Images;

namespace Convnet.Serve;

/// <summary>
/// Where <see cref="PredictionServer"/> listens and the limits that bound what one request, and all
/// of them together, may cost. Worst-case memory is about <see cref="MaxConcurrentRequests"/> ×
/// <see cref="MaxBodyBytes"/> for bodies plus <see cref="Instances"/> × 12 bytes ×
/// <see cref="MaxImagePixels"/> for decoding.
/// </summary>
public sealed record ServeOptions
{
    /// <summary>The address to bind: an IP address, or "localhost" (127.0.0.1). Loopback unless told otherwise.</summary>
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>The TCP port; 0 picks a free one (see <see cref="PredictionServer.Urls"/>).</summary>
    public int Port { get; init; } = 8080;

    /// <summary>The largest request body; a larger Content-Length is refused (413) before the body is read.</summary>
    public long MaxBodyBytes { get; init; } = 8L << 20;

    /// <summary>The largest picture, in pixels, refused (413) from its header before it is decoded; at most <see cref="ImageDecoder.MaxPixels"/>.</summary>
    public long MaxImagePixels { get; init; } = 16_000_000;

    /// <summary>The most images in one request to /v1/predict/batch.</summary>
    public int MaxBatchImages { get; init; } = 64;

    /// <summary>How long a request may take, from its arrival to its answer (reading, waiting for a model, predicting).</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Prediction requests in progress at once (running or waiting for a model instance); one more is answered 503 with Retry-After.</summary>
    public int MaxConcurrentRequests { get; init; } = 64;

    /// <summary>Model instances that predict in parallel (each a copy of the weights and its own buffers); 0 means one per core.</summary>
    public int Instances { get; init; }

    /// <summary>Worker threads of each instance; 0 means the cores shared out between the instances (at least 1).</summary>
    public int ThreadsPerInstance { get; init; }

    /// <summary>How long a stop (SIGTERM, Ctrl-C) waits for the requests in progress to finish.</summary>
    public TimeSpan ShutdownTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The instance count <see cref="Instances"/> asks for on this machine.</summary>
    public int InstanceCount => Instances == 0 ? Environment.ProcessorCount : Instances;

    /// <summary>The threads of each instance <see cref="ThreadsPerInstance"/> asks for on this machine.</summary>
    public int ThreadCount => ThreadsPerInstance == 0 ? Math.Max(1, Environment.ProcessorCount / InstanceCount) : ThreadsPerInstance;

    /// <summary>The address <see cref="Host"/> names.</summary>
    /// <exception cref="ArgumentException">It is neither an IP address nor "localhost".</exception>
    public IPAddress Address =>
        string.Equals(Host, "localhost", StringComparison.OrdinalIgnoreCase) ? IPAddress.Loopback
        : IPAddress.TryParse(Host, out var address) ? address
        : throw new ArgumentException($"Host must be an IP address (e.g. 127.0.0.1, 0.0.0.0, ::) or localhost, got '{Host}'.", nameof(Host));

    /// <summary>Throws <see cref="ArgumentException"/> naming the first setting out of range and its value.</summary>
    public void Validate()
    {
        _ = Address;
        Check(Port is >= 0 and <= 65535, nameof(Port), Port, "0 (a free port) to 65535");
        Check(MaxBodyBytes >= 1, nameof(MaxBodyBytes), MaxBodyBytes, "at least 1 byte");
        Check(MaxImagePixels is >= 1 and <= ImageDecoder.MaxPixels, nameof(MaxImagePixels), MaxImagePixels, $"1 to {ImageDecoder.MaxPixels}");
        Check(MaxBatchImages >= 1, nameof(MaxBatchImages), MaxBatchImages, "at least 1");
        Check(RequestTimeout > TimeSpan.Zero, nameof(RequestTimeout), RequestTimeout, "positive");
        Check(MaxConcurrentRequests >= 1, nameof(MaxConcurrentRequests), MaxConcurrentRequests, "at least 1");
        Check(Instances >= 0, nameof(Instances), Instances, "0 (one per core) or more");
        Check(ThreadsPerInstance >= 0, nameof(ThreadsPerInstance), ThreadsPerInstance, "0 (the cores shared out) or more");
        Check(ShutdownTimeout >= TimeSpan.Zero, nameof(ShutdownTimeout), ShutdownTimeout, "zero or positive");
    }

    private static void Check(bool ok, string name, object value, string expected)
    {
        if (!ok)
        {
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be {expected}, got {value}.");
        }
    }
}
