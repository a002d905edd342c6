using System.Buffers.Binary;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Convnet.Images;
using Convnet.Layers;
using Convnet.Models;
using Convnet.Serve;
using Convnet.Tensors;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Xunit;

namespace Convnet.Tests.Serve;

/// <summary>A started <see cref="PredictionServer"/> and a client for it: in memory (TestServer) or on a real loopback port (Kestrel).</summary>
internal sealed class ServeHarness : IAsyncDisposable
{
    private ServeHarness(PredictionServer server, HttpClient client, List<string> log)
    {
        Server = server;
        Client = client;
        Log = log;
    }

    public PredictionServer Server { get; }

    public HttpClient Client { get; }

    /// <summary>What the server logged (unexpected failures).</summary>
    public List<string> Log { get; }

    /// <summary>A server for <paramref name="model"/> (copied), in memory unless <paramref name="kestrel"/>, then on 127.0.0.1 at a free port.</summary>
    public static async Task<ServeHarness> StartAsync(IClassifier model, ServeOptions? options = null, bool kestrel = false, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var log = new List<string>();
        options ??= new ServeOptions();
        if (kestrel)
        {
            options = options with { Port = 0 };
        }
        var server = PredictionServer.Create(model, metadata ?? new Dictionary<string, string> { ["arch_spec"] = "test" }, "test.safetensors", options,
            line => { lock (log) { log.Add(line); } },
            kestrel ? null : builder => builder.WebHost.UseTestServer());
        await server.StartAsync();
        var client = kestrel
            ? new HttpClient { BaseAddress = new Uri(server.Urls.Single()) }
            : server.App.GetTestClient();
        return new ServeHarness(server, client, log);
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await Server.StopAsync();
        await Server.DisposeAsync();
    }

    /// <summary>POSTs <paramref name="body"/> with <paramref name="contentType"/> (none when null).</summary>
    public Task<HttpResponseMessage> PostAsync(string path, byte[] body, string? contentType)
    {
        var content = new ByteArrayContent(body);
        if (contentType is not null)
        {
            content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        }
        return Client.PostAsync(path, content);
    }

    public Task<HttpResponseMessage> PostJsonAsync(string path, string json) => PostAsync(path, Encoding.UTF8.GetBytes(json), "application/json");

    /// <summary>A multipart/form-data body with one file part per picture.</summary>
    public Task<HttpResponseMessage> PostFilesAsync(string path, params (string Name, byte[] Bytes)[] files)
    {
        var form = new MultipartFormDataContent();
        foreach (var (name, bytes) in files)
        {
            var part = new ByteArrayContent(bytes);
            part.Headers.ContentType = MediaTypeHeaderValue.Parse("image/png");
            form.Add(part, "image", name);
        }
        return Client.PostAsync(path, form);
    }

    /// <summary>Asserts the status and that the body is {"error": "..."}; returns the message.</summary>
    public static async Task<string> ErrorOf(HttpResponseMessage response, int status)
    {
        string body = await response.Content.ReadAsStringAsync();
        Assert.True((int)response.StatusCode == status, $"expected {status}, got {(int)response.StatusCode}: {body}");
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        using var json = JsonDocument.Parse(body);
        Assert.Equal(JsonValueKind.Object, json.RootElement.ValueKind);
        Assert.Single(json.RootElement.EnumerateObject());
        return json.RootElement.GetProperty("error").GetString()!;
    }

    /// <summary>Asserts 200 and returns the parsed body.</summary>
    public static async Task<JsonElement> Ok(HttpResponseMessage response)
    {
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"expected 200, got {(int)response.StatusCode}: {body}");
        return JsonDocument.Parse(body).RootElement.Clone();
    }
}

/// <summary>Models and pictures for the server tests.</summary>
internal static class ServeSamples
{
    /// <summary>An untrained 28×28×1 model of 10 unnamed classes: a digit model, so pictures are prepared as MNIST digits.</summary>
    public static Sequential DigitModel() => Tests.Models.ReferenceModel.Create(seed: 3);

    /// <summary>A small 16×16 RGB model of three named classes (not a digit model: pictures are resized).</summary>
    public static Sequential ColourModel()
    {
        var model = new Sequential(Shape.Image(16, 16, 3), seed: 5, threads: 1);
        model.Add(new Conv2D(4, 3)).Add(new ReLU()).Add(new Flatten()).Add(new Dense(3)).Add(new Softmax());
        model.ClassNames = ["blue", "green", "red"];
        return model;
    }

    /// <summary>A black-on-white vertical bar on a width × height picture, as PNG.</summary>
    public static byte[] BarPng(int width = 60, int height = 80, int channels = 1)
    {
        var pixels = new byte[width * height * channels];
        Array.Fill(pixels, (byte)255);
        for (int y = height / 5; y < height * 4 / 5; y++)
        {
            for (int x = width * 2 / 5; x < width * 3 / 5; x++)
            {
                pixels.AsSpan((y * width + x) * channels, channels).Clear();
            }
        }
        return ImageDecoder.EncodePng(pixels, height, width, channels);
    }

    /// <summary>A PNG whose header (IHDR) claims width × height, its CRC fixed so that only the size is wrong.</summary>
    public static byte[] PngClaiming(byte[] png, int width, int height)
    {
        byte[] bytes = (byte[])png.Clone();
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(16), width);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(20), height);
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(29), Images.ImageTrees.Crc32(bytes.AsSpan(12, 17)));
        return bytes;
    }

    /// <summary>A flat JSON array of <paramref name="count"/> pixel values.</summary>
    public static string Pixels(int count, int value = 0) => "[" + string.Join(",", Enumerable.Repeat(value, count)) + "]";
}
