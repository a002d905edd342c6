using System.Buffers;
using System.Reflection;
using System.Text.Json;
using Convnet.Data;
using Convnet.Images;
using Convnet.Models;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Convnet.Serve;

/// <summary>
/// A loaded classifier (one <see cref="Sequential"/> or an <see cref="Ensemble"/>) behind an HTTP
/// API on ASP.NET Core (Kestrel, minimal endpoints) and a draw-a-digit page:
/// <c>POST /v1/predict</c> (one picture or JSON pixels), <c>POST /v1/predict/batch</c>,
/// <c>GET /v1/model</c>, <c>GET /healthz</c>, <c>GET /openapi/v1.json</c> and the page at <c>/</c>.
/// Pictures are prepared as <c>convnet predict --image</c> prepares them
/// (<see cref="PictureInput"/>). Every refusal is a 4xx with <c>{"error": "..."}</c>; the limits
/// are <see cref="ServeOptions"/>'s.
/// </summary>
public sealed class PredictionServer : IAsyncDisposable
{
    private readonly ServeOptions _options;
    private readonly ModelPool _pool;
    private readonly byte[] _modelJson;
    private readonly Action<string> _log;
    private int _inProgress;
    private long _answered;

    private PredictionServer(IClassifier model, IReadOnlyDictionary<string, string> metadata, string modelName, ServeOptions options, Action<string> log, Action<WebApplicationBuilder>? configure)
    {
        _options = options;
        _log = log;
        _pool = new ModelPool(model, options.InstanceCount, options.ThreadCount);
        try
        {
            _modelJson = ModelDescription.Write(model, metadata, modelName, options, _pool);
            App = Build(configure);
        }
        catch
        {
            _pool.Dispose();
            throw;
        }
    }

    /// <summary>
    /// A server for <paramref name="model"/>, which it copies (<see cref="ServeOptions.Instances"/>
    /// copies, each with its own buffers): the caller still owns and disposes <paramref name="model"/>.
    /// </summary>
    /// <param name="model">The classifier to serve (copied; not kept).</param>
    /// <param name="metadata">The model file's metadata, shown by GET /v1/model.</param>
    /// <param name="modelName">What the model is called there (e.g. its file name).</param>
    /// <param name="options">Where to listen and the limits.</param>
    /// <param name="log">Receives one line per unexpected failure (an answer 500); none by default.</param>
    /// <param name="configure">Changes the builder before the app is built (e.g. a test server instead of Kestrel).</param>
    /// <exception cref="ArgumentException">An option is out of range, or the model does not take images of 1 or 3 channels.</exception>
    public static PredictionServer Create(IClassifier model, IReadOnlyDictionary<string, string> metadata, string modelName, ServeOptions options, Action<string>? log = null, Action<WebApplicationBuilder>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(metadata);
        ArgumentNullException.ThrowIfNull(modelName);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (!model.InputShape.IsImage || model.InputShape.Channels is not (1 or 3))
        {
            throw new ArgumentException($"The model takes {model.InputShape}, not images of 1 or 3 channels.", nameof(model));
        }
        return new PredictionServer(model, metadata, modelName, options, log ?? (_ => { }), configure);
    }

    /// <summary>The ASP.NET Core application (started by <see cref="StartAsync"/>).</summary>
    public WebApplication App { get; }

    /// <summary>The limits and address in force.</summary>
    public ServeOptions Options => _options;

    /// <summary>Predict requests answered so far (any status).</summary>
    public long Answered => Interlocked.Read(ref _answered);

    /// <summary>The addresses the server listens on once started, e.g. http://127.0.0.1:41234 (the real port when <see cref="ServeOptions.Port"/> is 0).</summary>
    public IReadOnlyList<string> Urls =>
        [.. App.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses ?? []];

    /// <summary>Binds the address and starts answering.</summary>
    /// <exception cref="IOException">The address is in use or cannot be bound.</exception>
    public Task StartAsync(CancellationToken cancellation = default) => App.StartAsync(cancellation);

    /// <summary>Stops taking connections and waits (up to <see cref="ServeOptions.ShutdownTimeout"/>) for the requests in progress to be answered.</summary>
    public Task StopAsync() => App.StopAsync();

    /// <summary>Disposes the application and the model copies.</summary>
    public async ValueTask DisposeAsync()
    {
        await App.DisposeAsync().ConfigureAwait(false);
        _pool.Dispose();
    }

    private WebApplication Build(Action<WebApplicationBuilder>? configure)
    {
        // The empty builder reads no appsettings.json, environment variables or command line: the
        // options are the only configuration, whatever folder the server runs in.
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions { ApplicationName = typeof(PredictionServer).Assembly.GetName().Name });
        builder.WebHost.UseKestrelCore();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = _options.MaxBodyBytes;
            kestrel.Limits.MaxConcurrentConnections = Math.Max(256, 4L * _options.MaxConcurrentRequests);
            kestrel.Limits.RequestHeadersTimeout = _options.RequestTimeout < TimeSpan.FromSeconds(30) ? _options.RequestTimeout : TimeSpan.FromSeconds(30);
            kestrel.Listen(_options.Address, _options.Port);
        });
        builder.Services.AddRoutingCore();
        builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = _options.ShutdownTimeout);
        // The caller decides when to stop (the CLI on SIGTERM or Ctrl-C), not a console lifetime of its own.
        builder.Services.AddSingleton<IHostLifetime, CallerLifetime>();
        configure?.Invoke(builder);

        var app = builder.Build();
        app.Use(Errors);
        app.Use(Admission);
        byte[] page = Resource("index.html");
        byte[] openApi = Resource("openapi.json");
        app.MapGet("/", (RequestDelegate)(context => Send(context, page, "text/html; charset=utf-8")));
        app.MapGet("/healthz", (RequestDelegate)(context => Send(context, """{"status":"ok"}"""u8.ToArray(), Json)));
        app.MapGet("/v1/model", (RequestDelegate)(context => Send(context, _modelJson, Json)));
        app.MapGet("/openapi/v1.json", (RequestDelegate)(context => Send(context, openApi, Json)));
        app.MapPost("/v1/predict", (RequestDelegate)(context => PredictAsync(context, batch: false)));
        app.MapPost("/v1/predict/batch", (RequestDelegate)(context => PredictAsync(context, batch: true)));
        return app;
    }

    private const string Json = "application/json; charset=utf-8";

    private static bool IsPredict(HttpContext context) => context.Request.Path.StartsWithSegments("/v1/predict", StringComparison.Ordinal);

    /// <summary>
    /// Outermost: turns every refusal into its status with {"error": ...}, a status without a body
    /// (404, 405) into one that says why, and anything unexpected into a 500 without details.
    /// </summary>
    private async Task Errors(HttpContext context, RequestDelegate next)
    {
        try
        {
            await next(context).ConfigureAwait(false);
            if (context.Response.StatusCode >= 400 && !context.Response.HasStarted && context.Response.ContentLength is null)
            {
                string what = $"{context.Request.Method} {context.Request.Path}";
                await WriteError(context, context.Response.StatusCode, context.Response.StatusCode switch
                {
                    StatusCodes.Status404NotFound => $"no such endpoint: {what}; the API is described at /openapi/v1.json",
                    StatusCodes.Status405MethodNotAllowed => $"{context.Request.Method} is not allowed on {context.Request.Path}",
                    _ => $"{what} failed",
                }).ConfigureAwait(false);
            }
        }
        catch (ApiError e)
        {
            await WriteError(context, e.Status, e.Message, e.RetryAfterSeconds).ConfigureAwait(false);
        }
        catch (BadHttpRequestException e)
        {
            // Kestrel's own refusals while reading the body: too large, ended early, too slow.
            await WriteError(context, e.StatusCode, e.StatusCode == StatusCodes.Status413PayloadTooLarge
                ? $"the body is more than the {_options.MaxBodyBytes:N0} bytes accepted (--max-body)"
                : $"the request body could not be read: {e.Message}").ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away: nobody to answer.
        }
        catch (Exception e)
        {
            _log($"error: {context.Request.Method} {context.Request.Path} failed unexpectedly: {e.Message}");
            await WriteError(context, StatusCodes.Status500InternalServerError, "internal error: the server failed to answer this request; it has been logged").ConfigureAwait(false);
        }
    }

    /// <summary>Before a predict request is read: at most <see cref="ServeOptions.MaxConcurrentRequests"/> in progress, and a declared body within the limit.</summary>
    private async Task Admission(HttpContext context, RequestDelegate next)
    {
        if (!IsPredict(context))
        {
            await next(context).ConfigureAwait(false);
            return;
        }
        if (context.Request.ContentLength > _options.MaxBodyBytes)
        {
            // Refused from the header: the body is never read.
            throw RequestImages.BodyTooLarge(context.Request.ContentLength.Value, _options.MaxBodyBytes);
        }
        if (Interlocked.Increment(ref _inProgress) > _options.MaxConcurrentRequests)
        {
            Interlocked.Decrement(ref _inProgress);
            throw new ApiError(StatusCodes.Status503ServiceUnavailable,
                $"the server is busy: {_options.MaxConcurrentRequests} requests are already in progress (--max-concurrent); retry in a moment", retryAfterSeconds: 1);
        }
        try
        {
            if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
            {
                limit.MaxRequestBodySize = _options.MaxBodyBytes;
            }
            await next(context).ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Decrement(ref _inProgress);
            Interlocked.Increment(ref _answered);
        }
    }

    /// <summary>Test hook: awaited once a request holds a model instance, before it decodes and predicts.</summary>
    internal Func<CancellationToken, Task>? HoldingModel { get; set; }

    private async Task PredictAsync(HttpContext context, bool batch)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        deadline.CancelAfter(_options.RequestTimeout);
        var token = deadline.Token;
        bool includeInput = context.Request.Query["include"].Any(v => v is not null && v.Split(',').Contains("input", StringComparer.Ordinal));
        var input = _pool.Any.InputShape;
        List<RequestImage> images;
        try
        {
            images = await RequestImages.ReadAsync(context.Request, batch, input, _options.MaxBatchImages, _options.MaxBodyBytes, token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (TimedOut(context, deadline))
        {
            throw new ApiError(StatusCodes.Status408RequestTimeout, $"the request body did not arrive within {Seconds(_options.RequestTimeout)} (--timeout)");
        }

        Answer[] answers;
        try
        {
            using var lease = await _pool.RentAsync(token).ConfigureAwait(false);
            if (HoldingModel is { } hold)
            {
                await hold(token).ConfigureAwait(false);
            }
            answers = Predict(lease.Model, images, token);
        }
        catch (OperationCanceledException) when (TimedOut(context, deadline))
        {
            throw new ApiError(StatusCodes.Status503ServiceUnavailable, $"the request took longer than {Seconds(_options.RequestTimeout)} (--timeout); the server may be overloaded, retry later", retryAfterSeconds: 1);
        }

        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = Json;
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var json = new Utf8JsonWriter(buffer, JsonOutput.Options))
        {
            var model = _pool.Any;
            if (batch)
            {
                json.WriteStartObject();
                json.WriteStartArray("predictions");
                foreach (var answer in answers)
                {
                    answer.Write(json, model, includeInput);
                }
                json.WriteEndArray();
                json.WriteEndObject();
            }
            else
            {
                answers[0].Write(json, model, includeInput);
            }
        }
        context.Response.ContentLength = buffer.WrittenCount;
        await context.Response.Body.WriteAsync(buffer.WrittenMemory, context.RequestAborted).ConfigureAwait(false);
    }

    private static bool TimedOut(HttpContext context, CancellationTokenSource deadline) =>
        deadline.IsCancellationRequested && !context.RequestAborted.IsCancellationRequested;

    private static string Seconds(TimeSpan time) => $"{time.TotalSeconds:0.###} s";

    /// <summary>Every image prepared (pictures checked from their header first), then one Predict over all of them.</summary>
    private Answer[] Predict(IClassifier model, List<RequestImage> images, CancellationToken cancellation)
    {
        var shape = model.InputShape;
        var inputs = new float[images.Count * shape.Size];
        var seen = new byte[images.Count][];
        var digit = new bool[images.Count];
        for (int i = 0; i < images.Count; i++)
        {
            cancellation.ThrowIfCancellationRequested();
            var image = images[i];
            if (image.Pixels is { } pixels)
            {
                var bytes = new byte[pixels.Length];
                for (int j = 0; j < pixels.Length; j++)
                {
                    inputs[i * shape.Size + j] = pixels[j] / 255f;
                    bytes[j] = (byte)MathF.Round(pixels[j]);
                }
                seen[i] = bytes;
                continue;
            }
            PictureInput.Prepared prepared;
            try
            {
                var info = ImageDecoder.ReadInfo(image.Encoded.Span, image.Name);
                if ((long)info.Width * info.Height > _options.MaxImagePixels)
                {
                    throw ApiError.TooLarge($"{image.Name}: the picture is {info.Width}×{info.Height} = {(long)info.Width * info.Height:N0} pixels, more than the {_options.MaxImagePixels:N0} accepted (--max-pixels); scale it down");
                }
                prepared = PictureInput.Prepare(image.Encoded, image.Name, model);
            }
            catch (DataFormatException e) when (e.Problem.Contains("megapixels accepted", StringComparison.Ordinal))
            {
                throw ApiError.TooLarge(e.Message);
            }
            catch (DataFormatException e)
            {
                throw ApiError.BadRequest(e.Message);
            }
            prepared.Input.CopyTo(inputs, i * shape.Size);
            seen[i] = prepared.Seen;
            digit[i] = prepared.Digit;
        }
        cancellation.ThrowIfCancellationRequested();
        float[] scores = model.Predict(inputs);
        var answers = new Answer[images.Count];
        for (int i = 0; i < answers.Length; i++)
        {
            answers[i] = new Answer(scores.AsMemory(i * model.Classes, model.Classes), seen[i], digit[i]);
        }
        return answers;
    }

    /// <summary>One image's answer: {label, class, probability, probabilities: {class: p}, digit_preprocessing[, input]}.</summary>
    private readonly record struct Answer(ReadOnlyMemory<float> Probabilities, byte[] Seen, bool Digit)
    {
        public void Write(Utf8JsonWriter json, IClassifier model, bool includeInput)
        {
            var p = Probabilities.Span;
            int best = Classifier.ArgMax(p);
            json.WriteStartObject();
            json.WriteString("label", model.ClassName(best));
            json.WriteNumber("class", best);
            json.WriteNumber("probability", p[best]);
            json.WriteStartObject("probabilities");
            for (int c = 0; c < p.Length; c++)
            {
                json.WriteNumber(model.ClassName(c), p[c]);
            }
            json.WriteEndObject();
            json.WriteBoolean("digit_preprocessing", Digit);
            if (includeInput)
            {
                var shape = model.InputShape;
                json.WriteStartObject("input");
                json.WriteStartArray("shape");
                json.WriteNumberValue(shape.Height);
                json.WriteNumberValue(shape.Width);
                json.WriteNumberValue(shape.Channels);
                json.WriteEndArray();
                json.WriteStartArray("pixels");
                foreach (byte b in Seen)
                {
                    json.WriteNumberValue(b);
                }
                json.WriteEndArray();
                json.WriteEndObject();
            }
            json.WriteEndObject();
        }
    }

    private static Task Send(HttpContext context, byte[] body, string contentType)
    {
        context.Response.ContentType = contentType;
        context.Response.ContentLength = body.Length;
        return context.Response.Body.WriteAsync(body, 0, body.Length, context.RequestAborted);
    }

    private static async Task WriteError(HttpContext context, int status, string message, int? retryAfterSeconds = null)
    {
        if (context.Response.HasStarted)
        {
            return;
        }
        context.Response.Clear();
        context.Response.StatusCode = status;
        if (retryAfterSeconds is int seconds)
        {
            context.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var json = new Utf8JsonWriter(buffer, JsonOutput.Options))
        {
            json.WriteStartObject();
            json.WriteString("error", message);
            json.WriteEndObject();
        }
        context.Response.ContentType = Json;
        context.Response.ContentLength = buffer.WrittenCount;
        await context.Response.Body.WriteAsync(buffer.WrittenMemory, CancellationToken.None).ConfigureAwait(false);
    }

    private static byte[] Resource(string name)
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream("Convnet.Serve." + name)
            ?? throw new InvalidOperationException($"The resource {name} is missing from the assembly.");
        var bytes = new byte[stream.Length];
        stream.ReadExactly(bytes);
        return bytes;
    }

    /// <summary>A host lifetime that leaves starting and stopping to whoever owns the server.</summary>
    private sealed class CallerLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
