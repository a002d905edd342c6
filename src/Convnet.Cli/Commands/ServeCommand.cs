using System.CommandLine;
using System.Runtime.CompilerServices;
using Convnet.Models;
using Convnet.Saving;
using Convnet.Serve;

namespace Convnet.Cli.Commands;

/// <summary>
/// convnet serve: reads the options and runs <see cref="PredictionServer"/> until SIGTERM or Ctrl-C.
/// ASP.NET Core is loaded only when the command runs (<see cref="Run"/>), so the other commands
/// start as fast as before.
/// </summary>
internal static class ServeCommand
{
    public static Command Create()
    {
        var model = Options.Model("The model file to serve (safetensors): one model, or an ensemble.");
        var host = new Option<string>("--host")
        {
            HelpName = "ADDRESS",
            Description = "The address to listen on: 127.0.0.1 (this machine only), 0.0.0.0 or :: (every network), or another IP address of this machine.",
            DefaultValueFactory = _ => "127.0.0.1",
        };
        var port = new Option<int>("--port", "-p")
        {
            Description = "The TCP port; 0 picks a free one (the URL printed at start names it).",
            DefaultValueFactory = _ => 8080,
        };
        var maxBody = new Option<string>("--max-body")
        {
            HelpName = "SIZE",
            Description = "The largest request body (e.g. 8M, 512K); a larger Content-Length is refused with 413 before the body is read.",
            DefaultValueFactory = _ => "8M",
        };
        var maxPixels = new Option<long>("--max-pixels")
        {
            Description = "The largest picture in pixels (width × height), refused with 413 from its header before it is decoded; at most 50,000,000.",
            DefaultValueFactory = _ => 16_000_000,
        };
        var maxBatch = new Option<int>("--max-batch")
        {
            Description = "The most images in one request to /v1/predict/batch.",
            DefaultValueFactory = _ => 64,
        };
        var timeout = new Option<double>("--timeout")
        {
            HelpName = "SECONDS",
            Description = "How long a request may take from its arrival to its answer; past it the answer is 408 (body too slow) or 503.",
            DefaultValueFactory = _ => 30,
        };
        var maxConcurrent = new Option<int>("--max-concurrent")
        {
            Description = "Prediction requests in progress at once (running or waiting for a model instance); one more is answered 503 with Retry-After: 1.",
            DefaultValueFactory = _ => 64,
        };
        var instances = new Option<int>("--instances")
        {
            Description = "Copies of the model that predict in parallel, each with its own buffers (0 = one per core). 1 with all the threads is one model behind a lock.",
            DefaultValueFactory = _ => 0,
        };
        var threads = new Option<int>(Options.ThreadsName, "-t")
        {
            Description = "Worker threads of each model copy (0 = the cores shared out between the copies, at least 1). Results do not depend on it.",
            DefaultValueFactory = _ => 0,
        };
        var command = new Command("serve", """
            Serve a model over HTTP on ASP.NET Core (Kestrel) until SIGTERM or Ctrl-C, which let the requests in progress finish and exit 0.
            POST /v1/predict: one picture (Content-Type image/png, image/jpeg, ..., or multipart/form-data with one file), prepared as predict --image prepares it, or JSON {"pixels": [...]} of the model's input (0-255, H×W×C); answers {"label", "class", "probability", "probabilities": {class: p}}. ?include=input adds the image the network saw.
            POST /v1/predict/batch: up to --max-batch images (multipart files, or JSON {"images": [[...], ...]}); answers {"predictions": [...]}.
            GET /v1/model (input shape, classes, architecture, parameters, training metadata, limits), GET /healthz, GET /openapi/v1.json, and at / a page to draw a digit or upload a picture and see the probabilities live.
            Bad input gets a 4xx with {"error": "..."} naming the problem: 400 malformed JSON, wrong shape, undecodable or truncated picture, too many images; 413 body or picture too large; 415 wrong Content-Type; 503 busy or timed out (with Retry-After).
            """)
        {
            model, host, port, maxBody, maxPixels, maxBatch, timeout, maxConcurrent, instances, threads,
        };
        command.SetAction((parse, cancellation) => Task.FromResult(Cli.Execute(parse, output => Run(
            parse.GetValue(model)!, parse.GetValue(host)!, parse.GetValue(port), parse.GetValue(maxBody)!, parse.GetValue(maxPixels), parse.GetValue(maxBatch),
            parse.GetValue(timeout), parse.GetValue(maxConcurrent), parse.GetValue(instances), Options.CheckThreads(parse.GetValue(threads)),
            output, parse.InvocationConfiguration.Error, cancellation))));
        return command;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int Run(string modelPath, string host, int port, string maxBody, long maxPixels, int maxBatch, double timeout, int maxConcurrent, int instances, int threads,
        TextWriter output, TextWriter error, CancellationToken cancellation)
    {
        Check(port is >= 0 and <= 65535, "--port", port, "0 (a free port) to 65535");
        long bodyBytes = MemoryBudget.ParseSize(maxBody) ?? throw new UserError($"--max-body needs a size such as 8M, 512K or a byte count, got '{maxBody}'");
        Check(bodyBytes >= 1, "--max-body", maxBody, "at least 1 byte");
        Check(maxPixels is >= 1 and <= Images.ImageDecoder.MaxPixels, "--max-pixels", maxPixels, $"1 to {Images.ImageDecoder.MaxPixels:N0}");
        Check(maxBatch >= 1, "--max-batch", maxBatch, "at least 1");
        Check(timeout > 0 && double.IsFinite(timeout) && timeout <= 86_400, "--timeout", timeout, "more than 0 and at most 86400 seconds");
        Check(maxConcurrent >= 1, "--max-concurrent", maxConcurrent, "at least 1");
        Check(instances >= 0, "--instances", instances, "0 (one per core) or more");
        var options = new ServeOptions
        {
            Host = host,
            Port = port,
            MaxBodyBytes = bodyBytes,
            MaxImagePixels = maxPixels,
            MaxBatchImages = maxBatch,
            RequestTimeout = TimeSpan.FromSeconds(timeout),
            MaxConcurrentRequests = maxConcurrent,
            Instances = instances,
            ThreadsPerInstance = threads,
        };
        try
        {
            _ = options.Address;
        }
        catch (ArgumentException)
        {
            throw new UserError($"--host must be an IP address (127.0.0.1, 0.0.0.0, ::, ...) or localhost, got '{host}'");
        }
        Cli.CheckExists(modelPath, "model");

        PredictionServer server;
        string what;
        var (net, metadata) = ModelFile.LoadClassifier(modelPath, threads: 1);
        using (net)
        {
            var shape = net.InputShape;
            what = $"{(net is Ensemble ensemble ? $"an ensemble of {ensemble.Members.Count} models" : "a model")}, images of {shape.Height}×{shape.Width}×{shape.Channels}, {net.Classes} classes";
            try
            {
                // The server keeps copies of the model (ServeOptions.Instances); this one is disposed here.
                server = PredictionServer.Create(net, metadata, Path.GetFileName(modelPath), options, log: line => error.WriteLine(line));
            }
            catch (ArgumentException e)
            {
                throw new UserError($"{modelPath}: cannot serve it: {e.Message}");
            }
        }
        try
        {
            try
            {
                server.StartAsync(cancellation).GetAwaiter().GetResult();
            }
            catch (IOException e)
            {
                throw new UserError($"cannot listen on {host} port {port}: {e.Message}");
            }
            string url = server.Urls.FirstOrDefault() ?? $"http://{host}:{port}";
            output.WriteLine($"Serving {modelPath} ({what}) at {url}/ with {options.InstanceCount} instance(s) of {options.ThreadCount} thread(s).");
            output.WriteLine("Stop with Ctrl-C or SIGTERM: the requests in progress are answered first.");
            output.Flush();
            cancellation.WaitHandle.WaitOne();
            output.WriteLine("Stopping: answering the requests in progress...");
            output.Flush();
            server.StopAsync().GetAwaiter().GetResult();
            output.WriteLine($"Stopped after {server.Answered:N0} prediction request(s).");
            return 0;
        }
        finally
        {
            server.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }

    private static void Check(bool ok, string option, object value, string expected)
    {
        if (!ok)
        {
            throw new UserError($"{option} must be {expected}, got {value}");
        }
    }
}
