using System.Net;
using System.Text;
using System.Text.Json;
using Convnet.Images;
using Convnet.Serve;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Xunit;
using static Convnet.Tests.Serve.ServeHarness;

namespace Convnet.Tests.Serve;

/// <summary>
/// Every endpoint of <see cref="PredictionServer"/> on an in-memory test server (TestHost, what
/// WebApplicationFactory runs on), and every hostile input of issue 19 with the status and the
/// error it gets.
/// </summary>
public sealed class ServeApiTests
{
    [Fact]
    public async Task Healthz_answers_ok()
    {
        using var model = ServeSamples.DigitModel();
        await using var serve = await StartAsync(model);
        var answer = await Ok(await serve.Client.GetAsync("/healthz"));
        Assert.Equal("ok", answer.GetProperty("status").GetString());
    }

    [Fact]
    public async Task Model_describes_input_classes_architecture_parameters_metadata_and_limits()
    {
        using var model = ServeSamples.DigitModel();
        var metadata = new Dictionary<string, string> { ["arch_spec"] = "simple", ["epochs"] = "3" };
        await using var serve = await StartAsync(model, new ServeOptions { MaxBatchImages = 7, Instances = 2, ThreadsPerInstance = 1 }, metadata: metadata);
        var m = await Ok(await serve.Client.GetAsync("/v1/model"));
        Assert.Equal("test.safetensors", m.GetProperty("name").GetString());
        Assert.Equal("sequential", m.GetProperty("kind").GetString());
        Assert.Equal([28, 28, 1], m.GetProperty("input_shape").EnumerateArray().Select(e => e.GetInt32()));
        Assert.Equal(10, m.GetProperty("classes").GetInt32());
        Assert.Equal(Enumerable.Range(0, 10).Select(i => i.ToString()), m.GetProperty("labels").EnumerateArray().Select(e => e.GetString()));
        Assert.True(m.GetProperty("digit_preprocessing").GetBoolean());
        Assert.Equal(model.ParameterCount, m.GetProperty("parameters").GetInt32());
        Assert.Equal("simple", m.GetProperty("architecture").GetString());
        Assert.Equal(model.Layers.Count, m.GetProperty("layers").GetArrayLength());
        Assert.Equal("Conv2D", m.GetProperty("layers")[0].GetProperty("type").GetString());
        Assert.Equal("3", m.GetProperty("metadata").GetProperty("epochs").GetString());
        Assert.Equal(7, m.GetProperty("limits").GetProperty("max_batch_images").GetInt32());
        Assert.Equal(2, m.GetProperty("limits").GetProperty("instances").GetInt32());
    }

    [Fact]
    public async Task The_page_is_self_contained_html()
    {
        using var model = ServeSamples.DigitModel();
        await using var serve = await StartAsync(model);
        var response = await serve.Client.GetAsync("/");
        string html = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("<canvas id=\"pad\"", html, StringComparison.Ordinal);
        Assert.Contains("/v1/predict?include=input", html, StringComparison.Ordinal);
        Assert.DoesNotContain("http://", html, StringComparison.Ordinal);
        Assert.DoesNotContain("https://", html, StringComparison.Ordinal);
        Assert.DoesNotContain("//cdn", html, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task The_openapi_document_describes_exactly_the_routes_the_server_maps()
    {
        using var model = ServeSamples.DigitModel();
        await using var serve = await StartAsync(model);
        var doc = await Ok(await serve.Client.GetAsync("/openapi/v1.json"));
        Assert.StartsWith("3.", doc.GetProperty("openapi").GetString(), StringComparison.Ordinal);
        var documented = doc.GetProperty("paths").EnumerateObject()
            .SelectMany(p => p.Value.EnumerateObject().Select(op => $"{op.Name.ToUpperInvariant()} {p.Name}")).Order(StringComparer.Ordinal).ToList();
        var mapped = serve.Server.App.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .SelectMany(e => e.Metadata.GetMetadata<Microsoft.AspNetCore.Routing.HttpMethodMetadata>()!.HttpMethods.Select(method => $"{method} {e.RoutePattern.RawText}"))
            .Order(StringComparer.Ordinal).ToList();
        Assert.Equal(mapped, documented);
    }

    [Fact]
    public async Task A_png_gets_the_probabilities_predict_image_computes_and_the_input_it_saw()
    {
        using var model = ServeSamples.DigitModel();
        await using var serve = await StartAsync(model);
        byte[] png = ServeSamples.BarPng();
        var answer = await Ok(await serve.PostAsync("/v1/predict?include=input", png, "image/png"));

        var prepared = PictureInput.Prepare(png, "x", model);
        float[] expected = model.Predict(prepared.Input);
        var probabilities = answer.GetProperty("probabilities").EnumerateObject().ToList();
        Assert.Equal(Enumerable.Range(0, 10).Select(i => i.ToString()), probabilities.Select(p => p.Name));
        Assert.Equal(expected, probabilities.Select(p => p.Value.GetSingle()));
        int best = Convnet.Models.Classifier.ArgMax(expected);
        Assert.Equal(best.ToString(), answer.GetProperty("label").GetString());
        Assert.Equal(best, answer.GetProperty("class").GetInt32());
        Assert.Equal(expected[best], answer.GetProperty("probability").GetSingle());
        Assert.True(answer.GetProperty("digit_preprocessing").GetBoolean());
        var input = answer.GetProperty("input");
        Assert.Equal([28, 28, 1], input.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()));
        Assert.Equal(prepared.Seen, input.GetProperty("pixels").EnumerateArray().Select(e => e.GetByte()));
        Assert.Contains(prepared.Seen, b => b > 200); // the bar, white on black as in MNIST

        // The same picture as a multipart upload, and without ?include=input.
        var upload = await Ok(await serve.PostFilesAsync("/v1/predict", ("bar.png", png)));
        Assert.Equal(expected, upload.GetProperty("probabilities").EnumerateObject().Select(p => p.Value.GetSingle()));
        Assert.False(upload.TryGetProperty("input", out _));
    }

    [Fact]
    public async Task Json_pixels_flat_as_rows_or_as_height_width_channels_give_the_models_own_answer()
    {
        using var model = ServeSamples.DigitModel();
        await using var serve = await StartAsync(model);
        var pixels = Enumerable.Range(0, 784).Select(i => i % 28 is > 10 and < 16 ? 255 : 0).ToArray();
        float[] expected = model.Predict(pixels.Select(p => p / 255f).ToArray());
        string flat = "[" + string.Join(",", pixels) + "]";
        string rows = "[" + string.Join(",", pixels.Chunk(28).Select(r => "[" + string.Join(",", r) + "]")) + "]";
        string hwc = "[" + string.Join(",", pixels.Chunk(28).Select(r => "[" + string.Join(",", r.Select(v => $"[{v}]")) + "]")) + "]";
        foreach (string body in new[] { flat, rows, hwc })
        {
            var answer = await Ok(await serve.PostJsonAsync("/v1/predict?include=input", $$"""{"pixels": {{body}}}"""));
            Assert.Equal(expected, answer.GetProperty("probabilities").EnumerateObject().Select(p => p.Value.GetSingle()));
            Assert.False(answer.GetProperty("digit_preprocessing").GetBoolean());
            Assert.Equal(pixels, answer.GetProperty("input").GetProperty("pixels").EnumerateArray().Select(e => e.GetInt32()));
        }
    }

    [Fact]
    public async Task A_batch_answers_each_image_in_order_from_files_or_json()
    {
        using var model = ServeSamples.DigitModel();
        await using var serve = await StartAsync(model);
        byte[][] pngs = [ServeSamples.BarPng(), ServeSamples.BarPng(90, 40), ServeSamples.BarPng(30, 30)];
        var single = new List<JsonElement>();
        foreach (var png in pngs)
        {
            single.Add(await Ok(await serve.PostAsync("/v1/predict", png, "image/png")));
        }
        var batch = await Ok(await serve.PostFilesAsync("/v1/predict/batch", [.. pngs.Select((p, i) => ($"{i}.png", p))]));
        var predictions = batch.GetProperty("predictions").EnumerateArray().ToList();
        Assert.Equal(3, predictions.Count);
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(single[i].GetProperty("probabilities").ToString(), predictions[i].GetProperty("probabilities").ToString());
        }

        var json = await Ok(await serve.PostJsonAsync("/v1/predict/batch", $$"""{"images": [{{ServeSamples.Pixels(784, 0)}}, {{ServeSamples.Pixels(784, 255)}}]}"""));
        Assert.Equal(2, json.GetProperty("predictions").GetArrayLength());
    }

    [Fact]
    public async Task A_colour_model_of_named_classes_gets_pictures_resized_and_answers_by_name()
    {
        using var model = ServeSamples.ColourModel();
        await using var serve = await StartAsync(model);
        var m = await Ok(await serve.Client.GetAsync("/v1/model"));
        Assert.False(m.GetProperty("digit_preprocessing").GetBoolean());
        Assert.Equal(["blue", "green", "red"], m.GetProperty("labels").EnumerateArray().Select(e => e.GetString()));

        byte[] png = ServeSamples.BarPng(40, 30, channels: 3);
        var answer = await Ok(await serve.PostAsync("/v1/predict?include=input", png, "image/png"));
        var prepared = PictureInput.Prepare(png, "x", model);
        Assert.Equal(model.Predict(prepared.Input), answer.GetProperty("probabilities").EnumerateObject().Select(p => p.Value.GetSingle()));
        Assert.Equal(["blue", "green", "red"], answer.GetProperty("probabilities").EnumerateObject().Select(p => p.Name));
        Assert.Contains(answer.GetProperty("label").GetString(), new[] { "blue", "green", "red" });
        Assert.Equal([16, 16, 3], answer.GetProperty("input").GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()));

        string hwc = "[" + string.Join(",", Enumerable.Range(0, 16).Select(_ => "[" + string.Join(",", Enumerable.Range(0, 16).Select(_ => "[255,0,0]")) + "]")) + "]";
        await Ok(await serve.PostJsonAsync("/v1/predict", $$"""{"pixels": {{hwc}}}"""));
        Assert.Equal("pixels: arrays nested 2 deep; expected 768 numbers 0-255 (16×16×3), flat or as [16][16][3]",
            await ErrorOf(await serve.PostJsonAsync("/v1/predict", """{"pixels": [[1,2,3]]}"""), 400));
    }

    [Fact]
    public async Task An_ensemble_is_served_as_the_mean_of_its_members()
    {
        using var ensemble = new Convnet.Models.Ensemble([Tests.Models.ReferenceModel.Create(seed: 1), Tests.Models.ReferenceModel.Create(seed: 2)]);
        await using var serve = await StartAsync(ensemble, new ServeOptions { Instances = 2, ThreadsPerInstance = 1 });
        var m = await Ok(await serve.Client.GetAsync("/v1/model"));
        Assert.Equal("ensemble", m.GetProperty("kind").GetString());
        Assert.Equal(2, m.GetProperty("members").GetInt32());
        Assert.Equal(ensemble.ParameterCount, m.GetProperty("parameters").GetInt32());
        byte[] png = ServeSamples.BarPng();
        var answer = await Ok(await serve.PostAsync("/v1/predict", png, "image/png"));
        float[] expected = ensemble.Predict(PictureInput.Prepare(png, "x", ensemble).Input);
        Assert.Equal(expected, answer.GetProperty("probabilities").EnumerateObject().Select(p => p.Value.GetSingle()));
    }

    [Theory]
    [InlineData("""{"pixels": [0,0,0]}""", "pixels: expected 784 numbers 0-255 (28×28×1), flat or as 28 rows of 28, got 3 numbers")]
    [InlineData("""{"pixels": [[0,0]]}""", "pixels[0]: expected 28 values, got 2")]
    [InlineData("""{"pixels": [0, "a"]}""", "pixels[1]: expected a number 0-255, got a string")]
    [InlineData("""{"pixels": [0, 300]}""", "pixels[1]: 300 is outside 0-255")]
    [InlineData("""{"pixels": [0, -1.5]}""", "pixels[1]: -1.5 is outside 0-255")]
    [InlineData("""{"pixels": 7}""", "pixels: expected an array of 784 numbers 0-255 (28×28×1), flat or as 28 rows of 28, got a number")]
    [InlineData("""{"pixel": []}""", "unknown property 'pixel'; expected only 'pixels'")]
    [InlineData("""{}""", "the JSON object has no 'pixels'")]
    [InlineData("""[1, 2]""", "expected a JSON object {\"pixels\": [...]}, got an array")]
    [InlineData("""{"pixels": [0, 0,}""", "malformed JSON at line 1, byte 18: ")]
    [InlineData("{\n  \"pixels\": [0 0]\n}", "malformed JSON at line 2, byte 16: ")]
    [InlineData("""{"pixels": [0, 0""", "malformed JSON")]
    [InlineData("", "malformed JSON")]
    public async Task Wrong_shapes_values_and_malformed_json_get_400_naming_the_problem(string body, string expected)
    {
        using var model = ServeSamples.DigitModel();
        await using var serve = await StartAsync(model);
        string error = await ErrorOf(await serve.PostJsonAsync("/v1/predict", body), 400);
        Assert.StartsWith(expected, error, StringComparison.Ordinal);
        if (expected.EndsWith(": ", StringComparison.Ordinal))
        {
            Assert.True(error.Length > expected.Length + 5, error); // and says what is wrong there
            Assert.DoesNotContain("LineNumber", error, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_row_of_the_wrong_length_is_named_by_its_index()
    {
        using var model = ServeSamples.DigitModel();
        await using var serve = await StartAsync(model);
        var rows = Enumerable.Range(0, 28).Select(r => ServeSamples.Pixels(r == 3 ? 29 : 28)).ToList();
        Assert.Equal("pixels[3]: expected 28 values, got 29",
            await ErrorOf(await serve.PostJsonAsync("/v1/predict", $$"""{"pixels": [{{string.Join(",", rows)}}]}"""), 400));
        var short27 = Enumerable.Range(0, 27).Select(_ => ServeSamples.Pixels(28));
        Assert.Equal("pixels: expected 28 rows of 28 values, got 27 rows",
            await ErrorOf(await serve.PostJsonAsync("/v1/predict", $$"""{"pixels": [{{string.Join(",", short27)}}]}"""), 400));
    }

    [Fact]
    public async Task Undecodable_truncated_and_blank_pictures_get_400_naming_the_image()
    {
        using var model = ServeSamples.DigitModel();
        await using var serve = await StartAsync(model);
        Assert.Equal("image: not an image this build can decode (PNG, JPEG, GIF, BMP, WebP)",
            await ErrorOf(await serve.PostAsync("/v1/predict", Encoding.UTF8.GetBytes("hello, not a picture"), "image/png"), 400));
        Assert.Equal("image: no bytes, not an image",
            await ErrorOf(await serve.PostAsync("/v1/predict", [], "image/png"), 400));

        byte[] png = NoisyPng(120, 120);
        string truncated = await ErrorOf(await serve.PostAsync("/v1/predict", png[..(png.Length / 2)], "image/png"), 400);
        Assert.Equal("image: the image is truncated (its data ends before the last row)", truncated);

        byte[] white = ImageDecoder.EncodePng(Enumerable.Repeat((byte)255, 50 * 50).ToArray(), 50, 50, 1);
        Assert.Equal("image: The image is blank: no digit found.", await ErrorOf(await serve.PostAsync("/v1/predict", white, "image/png"), 400));

        // In a batch the image is named by its place and file name.
        Assert.Equal("image 1 ('b.png'): not an image this build can decode (PNG, JPEG, GIF, BMP, WebP)",
            await ErrorOf(await serve.PostFilesAsync("/v1/predict/batch", ("a.png", ServeSamples.BarPng()), ("b.png", [1, 2, 3])), 400));
    }

    [Fact]
    public async Task A_picture_whose_header_claims_too_many_pixels_gets_413_without_being_decoded()
    {
        using var model = ServeSamples.DigitModel();
        await using var serve = await StartAsync(model);
        byte[] png = ServeSamples.BarPng();
        Assert.Equal("image: image of 100000×100000 pixels is larger than the 50 megapixels accepted; scale it down",
            await ErrorOf(await serve.PostAsync("/v1/predict", ServeSamples.PngClaiming(png, 100_000, 100_000), "image/png"), 413));
        // Under the decoder's 50 megapixels but over the server's 16: still refused from the header.
        long before = GC.GetTotalAllocatedBytes(precise: true);
        Assert.Equal("image: the picture is 5000×5000 = 25,000,000 pixels, more than the 16,000,000 accepted (--max-pixels); scale it down",
            await ErrorOf(await serve.PostAsync("/v1/predict", ServeSamples.PngClaiming(png, 5000, 5000), "image/png"), 413));
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
        Assert.True(allocated < 20_000_000, $"{allocated:N0} bytes allocated: the 25-megapixel picture was decoded");
    }

    [Fact]
    public async Task A_body_over_the_limit_gets_413()
    {
        using var model = ServeSamples.DigitModel();
        await using var serve = await StartAsync(model, new ServeOptions { MaxBodyBytes = 1000 });
        Assert.Equal("the body is 2,000 bytes, more than the 1,000 accepted (--max-body)",
            await ErrorOf(await serve.PostAsync("/v1/predict", new byte[2000], "image/png"), 413));
        // Without a Content-Length (chunked), reading stops at the limit.
        var chunked = new StreamContent(new MemoryStream(new byte[5000]));
        chunked.Headers.ContentType = new("image/png");
        Assert.Null(chunked.Headers.ContentLength is long n && n > 0 ? null : (long?)null);
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/predict") { Content = chunked };
        request.Headers.TransferEncodingChunked = true;
        Assert.Equal("the body is more than the 1,000 bytes accepted (--max-body)", await ErrorOf(await serve.Client.SendAsync(request), 413));
    }

    [Fact]
    public async Task Too_many_images_in_a_batch_get_400()
    {
        using var model = ServeSamples.DigitModel();
        await using var serve = await StartAsync(model, new ServeOptions { MaxBatchImages = 2 });
        byte[] png = ServeSamples.BarPng();
        Assert.Equal("too many images: 3, at most 2 in one request (--max-batch)",
            await ErrorOf(await serve.PostFilesAsync("/v1/predict/batch", ("a.png", png), ("b.png", png), ("c.png", png)), 400));
        string p = ServeSamples.Pixels(784);
        Assert.Equal("too many images: 4, at most 2 in one request (--max-batch)",
            await ErrorOf(await serve.PostJsonAsync("/v1/predict/batch", $$"""{"images": [{{p}}, {{p}}, {{p}}, {{p}}]}"""), 400));
        Assert.Equal("expected one image, got 2; send several to /v1/predict/batch",
            await ErrorOf(await serve.PostFilesAsync("/v1/predict", ("a.png", png), ("b.png", png)), 400));
        Assert.Equal("the batch holds no images", await ErrorOf(await serve.PostJsonAsync("/v1/predict/batch", """{"images": []}"""), 400));
    }

    [Fact]
    public async Task A_wrong_content_type_gets_415_saying_what_is_accepted()
    {
        using var model = ServeSamples.DigitModel();
        await using var serve = await StartAsync(model);
        string error = await ErrorOf(await serve.PostAsync("/v1/predict", Encoding.UTF8.GetBytes("7"), "text/plain"), 415);
        Assert.Equal("Content-Type 'text/plain' is not accepted; send image/png, image/jpeg (or another image/*), multipart/form-data with file parts, or application/json {\"pixels\": [...]}", error);
        // Written for people too: quotes and '×' as they are, not \u0027 or \u00D7.
        string raw = await (await serve.PostJsonAsync("/v1/predict", """{"pixels": [1]}""")).Content.ReadAsStringAsync();
        Assert.Equal("{\"error\":\"pixels: expected 784 numbers 0-255 (28×28×1), flat or as 28 rows of 28, got 1 numbers\"}", raw);
        Assert.Contains("'text/plain'", await (await serve.PostAsync("/v1/predict", [1], "text/plain")).Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.StartsWith("the request has no Content-Type; ", await ErrorOf(await serve.PostAsync("/v1/predict", [1], null), 415), StringComparison.Ordinal);
        Assert.StartsWith("Content-Type 'image/png' is not accepted; a batch is multipart/form-data",
            await ErrorOf(await serve.PostAsync("/v1/predict/batch", ServeSamples.BarPng(), "image/png"), 415), StringComparison.Ordinal);
        Assert.Equal("the multipart/form-data body holds no file part; send each picture as a file field (curl -F image=@digit.png)",
            await ErrorOf(await serve.Client.PostAsync("/v1/predict", new MultipartFormDataContent { { new StringContent("7"), "digit" } }), 400));
    }

    [Fact]
    public async Task Unknown_paths_and_methods_get_json_errors()
    {
        using var model = ServeSamples.DigitModel();
        await using var serve = await StartAsync(model);
        Assert.Equal("no such endpoint: GET /v2/predict; the API is described at /openapi/v1.json", await ErrorOf(await serve.Client.GetAsync("/v2/predict"), 404));
        Assert.Equal("GET is not allowed on /v1/predict", await ErrorOf(await serve.Client.GetAsync("/v1/predict"), 405));
    }

    [Fact]
    public async Task Requests_beyond_the_concurrency_limit_get_503_with_retry_after_and_the_others_are_answered()
    {
        using var model = ServeSamples.DigitModel();
        await using var serve = await StartAsync(model, new ServeOptions { MaxConcurrentRequests = 2, Instances = 1, ThreadsPerInstance = 1 });
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        int holding = 0;
        serve.Server.HoldingModel = async token => { Interlocked.Increment(ref holding); await release.Task.WaitAsync(token); };
        byte[] png = ServeSamples.BarPng();
        var first = serve.PostAsync("/v1/predict", png, "image/png");
        var second = serve.PostAsync("/v1/predict", png, "image/png");
        // The first holds the one instance; the second waits for it: two in progress.
        for (int i = 0; i < 200 && Volatile.Read(ref holding) < 1; i++)
        {
            await Task.Delay(10);
        }
        await Task.Delay(100);
        var third = await serve.PostAsync("/v1/predict", png, "image/png");
        Assert.Equal("the server is busy: 2 requests are already in progress (--max-concurrent); retry in a moment", await ErrorOf(third, 503));
        Assert.Equal("1", third.Headers.GetValues("Retry-After").Single());
        release.SetResult();
        await Ok(await first);
        await Ok(await second);
        await Ok(await serve.PostAsync("/v1/predict", png, "image/png"));
    }

    [Fact]
    public async Task A_request_over_the_timeout_gets_503_and_an_unexpected_failure_a_500_without_details()
    {
        using var model = ServeSamples.DigitModel();
        await using var serve = await StartAsync(model, new ServeOptions { RequestTimeout = TimeSpan.FromMilliseconds(300) });
        serve.Server.HoldingModel = token => Task.Delay(Timeout.Infinite, token);
        var slow = await serve.PostAsync("/v1/predict", ServeSamples.BarPng(), "image/png");
        Assert.Equal("the request took longer than 0.3 s (--timeout); the server may be overloaded, retry later", await ErrorOf(slow, 503));

        serve.Server.HoldingModel = _ => throw new InvalidOperationException("boom in the model");
        var failed = await serve.PostAsync("/v1/predict", ServeSamples.BarPng(), "image/png");
        string error = await ErrorOf(failed, 500);
        Assert.Equal("internal error: the server failed to answer this request; it has been logged", error);
        Assert.Contains(serve.Log, line => line.Contains("boom in the model", StringComparison.Ordinal) && line.StartsWith("error: POST /v1/predict", StringComparison.Ordinal));

        // The instance went back to the pool: the server still answers.
        serve.Server.HoldingModel = null;
        await Ok(await serve.PostAsync("/v1/predict", ServeSamples.BarPng(), "image/png"));
    }

    /// <summary>A gray noise PNG: it compresses badly, so cutting it in half cuts its pixel data.</summary>
    internal static byte[] NoisyPng(int width, int height)
    {
        var rng = new Random(4);
        var pixels = new byte[width * height];
        rng.NextBytes(pixels);
        return ImageDecoder.EncodePng(pixels, height, width, 1);
    }
}
