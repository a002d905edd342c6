using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using Convnet.Serve;
using Convnet.Tests.Cli;
using Convnet.Tests.Data;
using Convnet.Tests.Support;
using Xunit;

namespace Convnet.Tests.Serve;

/// <summary>
/// The server on a real loopback port: Kestrel refuses an oversized Content-Length without
/// waiting for the body, and <c>convnet serve</c> as its own process prints its URL for port 0,
/// answers, and on SIGTERM finishes the request in progress and exits 0.
/// </summary>
public sealed partial class ServeKestrelTests
{
    [Fact]
    public async Task An_oversized_content_length_is_refused_at_once_without_the_body_being_sent()
    {
        using var model = ServeSamples.DigitModel();
        await using var serve = await ServeHarness.StartAsync(model, new ServeOptions { MaxBodyBytes = 1 << 20 }, kestrel: true);
        var uri = serve.Client.BaseAddress!;
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(uri.Host, uri.Port);
        var stream = tcp.GetStream();
        // Headers only: a client that then sent 100 MB would be refused before its first byte.
        await stream.WriteAsync(Encoding.ASCII.GetBytes($"POST /v1/predict HTTP/1.1\r\nHost: {uri.Authority}\r\nContent-Type: image/png\r\nContent-Length: 100000000\r\n\r\n"));
        var clock = Stopwatch.StartNew();
        string response = await ReadResponseAsync(stream, TimeSpan.FromSeconds(10));
        Assert.StartsWith("HTTP/1.1 413 ", response, StringComparison.Ordinal);
        Assert.Contains("{\"error\":\"the body is 100,000,000 bytes, more than the 1,048,576 accepted (--max-body)\"}", response, StringComparison.Ordinal);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"{clock.Elapsed}");
    }

    [Fact]
    public async Task Convnet_serve_prints_its_url_answers_and_on_sigterm_finishes_the_request_in_progress_and_exits_0()
    {
        using var dir = new TempDir();
        string modelPath = dir.File("digits.safetensors");
        using (var model = ServeSamples.DigitModel())
        {
            Convnet.Saving.ModelFile.Save(model, modelPath);
        }
        var start = new ProcessStartInfo(ChildProcess.DotnetHost())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string arg in new[] { Path.Combine(AppContext.BaseDirectory, "Convnet.Cli.dll"), "serve", "--model", modelPath, "--port", "0" })
        {
            start.ArgumentList.Add(arg);
        }
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            string first = await process.StandardOutput.ReadLineAsync() ?? "";
            var match = UrlPattern().Match(first);
            Assert.True(match.Success, $"no URL in the first line: '{first}' (stderr: {(process.HasExited ? await stderr : "")})");
            Assert.StartsWith($"Serving {modelPath} (a model, images of 28×28×1, 10 classes) at http://127.0.0.1:", first, StringComparison.Ordinal);
            var url = new Uri(match.Groups[1].Value);
            Assert.NotEqual(0, url.Port);
            Assert.Equal("Stop with Ctrl-C or SIGTERM: the requests in progress are answered first.", await process.StandardOutput.ReadLineAsync());

            using (var http = new HttpClient { BaseAddress = url })
            {
                Assert.Equal("""{"status":"ok"}""", await http.GetStringAsync("/healthz"));
            }

            // A request in progress: its headers and half its body sent, then SIGTERM, then the rest.
            byte[] png = ServeSamples.BarPng();
            using var tcp = new TcpClient();
            await tcp.ConnectAsync(url.Host, url.Port);
            var stream = tcp.GetStream();
            await stream.WriteAsync(Encoding.ASCII.GetBytes($"POST /v1/predict HTTP/1.1\r\nHost: {url.Authority}\r\nContent-Type: image/png\r\nContent-Length: {png.Length}\r\n\r\n"));
            await stream.WriteAsync(png.AsMemory(0, png.Length / 2));
            await stream.FlushAsync();
            await Task.Delay(300);
            Signal(process, "TERM");
            Assert.Equal("Stopping: answering the requests in progress...", await process.StandardOutput.ReadLineAsync());
            await Task.Delay(300);
            Assert.False(process.HasExited, "the server exited with a request in progress");
            await stream.WriteAsync(png.AsMemory(png.Length / 2));
            string response = await ReadResponseAsync(stream, TimeSpan.FromSeconds(20));
            Assert.StartsWith("HTTP/1.1 200 ", response, StringComparison.Ordinal);
            Assert.Contains("\"probabilities\":{\"0\":", response, StringComparison.Ordinal);

            using (var exit = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
            {
                await process.WaitForExitAsync(exit.Token);
            }
            Assert.Equal(0, process.ExitCode);
            Assert.Equal("Stopped after 1 prediction request(s).", await process.StandardOutput.ReadLineAsync());
            Assert.Equal("", await stderr);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
    }

    [Fact]
    public void Convnet_serve_refuses_bad_options_in_one_line()
    {
        using var dir = new TempDir();
        string modelPath = dir.File("digits.safetensors");
        using (var model = ServeSamples.DigitModel())
        {
            Convnet.Saving.ModelFile.Save(model, modelPath);
        }
        foreach (var (args, error) in new (string[], string)[]
        {
            (["--port", "70000"], "error: --port must be 0 (a free port) to 65535, got 70000\n"),
            (["--host", "example.com"], "error: --host must be an IP address (127.0.0.1, 0.0.0.0, ::, ...) or localhost, got 'example.com'\n"),
            (["--max-body", "lots"], "error: --max-body needs a size such as 8M, 512K or a byte count, got 'lots'\n"),
            (["--max-pixels", "60000000"], "error: --max-pixels must be 1 to 50,000,000, got 60000000\n"),
            (["--max-batch", "0"], "error: --max-batch must be at least 1, got 0\n"),
            (["--timeout", "0"], "error: --timeout must be more than 0 and at most 86400 seconds, got 0\n"),
            (["--max-concurrent", "0"], "error: --max-concurrent must be at least 1, got 0\n"),
        })
        {
            var result = CliHarness.Run(["serve", "--model", modelPath, .. args]);
            Assert.Equal(1, result.ExitCode);
            Assert.Equal(error, result.Err);
        }
        var missing = CliHarness.Run("serve", "--model", dir.File("none.safetensors"));
        Assert.Equal($"error: model '{dir.File("none.safetensors")}' not found\n", missing.Err);
    }

    private static void Signal(Process process, string signal)
    {
        using var kill = Process.Start(new ProcessStartInfo("kill", [$"-{signal}", process.Id.ToString(CultureInfo.InvariantCulture)]) { UseShellExecute = false })!;
        kill.WaitForExit();
    }

    /// <summary>Reads one HTTP/1.1 response whose body has a Content-Length.</summary>
    internal static async Task<string> ReadResponseAsync(NetworkStream stream, TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        var received = new MemoryStream();
        var buffer = new byte[8192];
        while (true)
        {
            int n = await stream.ReadAsync(buffer, cancel.Token);
            if (n == 0)
            {
                break;
            }
            received.Write(buffer, 0, n);
            string text = Encoding.UTF8.GetString(received.ToArray());
            int end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            var length = Regex.Match(text, "(?i)content-length: (\\d+)");
            if (end >= 0 && length.Success && Encoding.UTF8.GetByteCount(text[(end + 4)..]) >= int.Parse(length.Groups[1].Value, CultureInfo.InvariantCulture))
            {
                return text;
            }
        }
        return Encoding.UTF8.GetString(received.ToArray());
    }

    [GeneratedRegex(@" at (http://[^ ]+)/ with ")]
    private static partial Regex UrlPattern();
}
