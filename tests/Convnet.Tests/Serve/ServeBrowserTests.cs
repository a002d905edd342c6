using Convnet.Architecture;
using Convnet.Data;
using Convnet.Serve;
using Convnet.Tests.Cli;
using Convnet.Tests.Data;
using Convnet.Training;
using Microsoft.Playwright;
using Xunit;
using Xunit.Abstractions;

namespace Convnet.Tests.Serve;

/// <summary>
/// The page of <c>convnet serve</c> in headless Chromium (Debian's /usr/bin/chromium through
/// Playwright, as the report test): a 7 drawn with the mouse on the canvas wins, an uploaded PNG of
/// a 1 wins, the network's input is drawn beside, and the page fetches nothing but the server.
/// The model is <c>simple</c> trained for one epoch on 15,000 MNIST images (the data CI fetches
/// into data/ with <c>convnet data</c>). Set CONVNET_SERVE_SCREENSHOT to a file to keep a picture.
/// </summary>
[Trait("Category", "Visualization")]
public sealed class ServeBrowserTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Drawing_a_7_with_the_mouse_makes_7_win_and_an_uploaded_1_wins_with_nothing_fetched_from_outside()
    {
        Assert.True(File.Exists(Visualization.ReportBrowserTests.Chromium), $"{Visualization.ReportBrowserTests.Chromium} is missing: install Debian's chromium, as .ci/run does");
        using var model = TrainOnMnist();
        await using var serve = await ServeHarness.StartAsync(model, kestrel: true);
        string origin = serve.Client.BaseAddress!.GetLeftPart(UriPartial.Authority);

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = Visualization.ReportBrowserTests.Chromium,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
        });
        var page = await browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1040, Height = 470 } });
        var problems = new List<string>();
        var predictions = 0;
        page.Console += (_, message) =>
        {
            if (message.Type is "error" or "warning")
            {
                problems.Add($"console {message.Type}: {message.Text}");
            }
        };
        page.PageError += (_, error) => problems.Add($"page error: {error}");
        page.Request += (_, request) =>
        {
            if (!request.Url.StartsWith(origin + "/", StringComparison.Ordinal) && !request.Url.StartsWith("blob:" + origin, StringComparison.Ordinal) && !request.Url.StartsWith("data:", StringComparison.Ordinal))
            {
                problems.Add($"request outside the server: {request.Url}");
            }
            if (request.Url.Contains("/v1/predict", StringComparison.Ordinal))
            {
                Interlocked.Increment(ref predictions);
            }
        };
        await page.GotoAsync(origin + "/", new PageGotoOptions { WaitUntil = WaitUntilState.NetworkIdle });
        await page.WaitForFunctionAsync("() => document.getElementById('pad-title').textContent === 'Draw a digit'");

        // A 7 as a hand draws it: the bar left to right, then the stroke down to the lower left.
        var pad = await page.QuerySelectorAsync("#pad");
        var box = (await pad!.BoundingBoxAsync())!;
        float X(double f) => (float)(box.X + box.Width * f);
        float Y(double f) => (float)(box.Y + box.Height * f);
        // A hand takes about a second for it: 30 moves 30 ms apart.
        await page.Mouse.MoveAsync(X(0.25), Y(0.2));
        await page.Mouse.DownAsync();
        foreach (var (x, y) in Enumerable.Range(1, 12).Select(i => (0.25 + 0.5 * i / 12, 0.2))
            .Concat(Enumerable.Range(1, 18).Select(i => (0.75 - 0.3 * i / 18, 0.2 + 0.65 * i / 18))))
        {
            await page.Mouse.MoveAsync(X(x), Y(y));
            await Task.Delay(30);
        }
        int whileDrawing = Volatile.Read(ref predictions);
        await page.Mouse.UpAsync();
        string seven = await WinnerAfterSettling(page);
        Assert.True(seven == "7", $"the drawn 7 was read as {seven}; bars: {await page.InnerTextAsync("#bars")}");
        Assert.True(whileDrawing >= 2, $"{whileDrawing} predictions while drawing: the probabilities should update during the stroke");
        Assert.Contains("win", await page.GetAttributeAsync("#bars .row[data-label='7']", "class") ?? "", StringComparison.Ordinal);
        Assert.Equal(10, await page.Locator("#bars .row").CountAsync());
        // The 28×28 input the network saw is drawn beside: white strokes on black.
        int bright = await page.EvaluateAsync<int>("""
            () => { const c = document.getElementById('seen'); const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                    let n = 0; for (let i = 0; i < d.length; i += 4) if (d[i] > 128) n++; return c.width === 28 ? n : -1; }
            """);
        Assert.InRange(bright, 20, 400);

        string? screenshot = Environment.GetEnvironmentVariable("CONVNET_SERVE_SCREENSHOT");
        if (!string.IsNullOrEmpty(screenshot))
        {
            await page.ScreenshotAsync(new PageScreenshotOptions { Path = screenshot });
        }

        // Undo takes the stroke away: nothing left to predict.
        await page.ClickAsync("#undo");
        await page.WaitForFunctionAsync("() => document.getElementById('winner').dataset.label === ''");

        // Upload a PNG of a 1 instead.
        using var dir = new TempDir();
        string one = CliImages.WriteDigitPng(dir, "one.png", '1', whiteOnBlack: false);
        await page.SetInputFilesAsync("#file", one);
        string uploaded = await WinnerAfterSettling(page);
        Assert.True(uploaded == "1", $"the uploaded 1 was read as {uploaded}; bars: {await page.InnerTextAsync("#bars")}");
        Assert.Equal("", await page.InnerTextAsync("#error"));

        Assert.Empty(problems);
        Assert.Empty(serve.Log);
    }

    /// <summary>The winner once the page has no prediction in flight and the label has stayed the same for a moment.</summary>
    private static async Task<string> WinnerAfterSettling(IPage page)
    {
        await page.WaitForFunctionAsync("() => document.getElementById('winner').dataset.label !== ''", null, new PageWaitForFunctionOptions { Timeout = 20_000 });
        string last = "";
        for (int stable = 0, i = 0; stable < 3 && i < 100; i++)
        {
            await Task.Delay(150);
            string now = await page.EvaluateAsync<string>("() => document.getElementById('winner').dataset.label");
            stable = now == last ? stable + 1 : 0;
            last = now;
        }
        return last;
    }

    private Convnet.Models.Sequential TrainOnMnist()
    {
        string dataDir = Path.Combine(CliHarness.RepoRoot(), "data");
        var fetched = CliHarness.Run("data", "--dir", dataDir);
        Assert.True(fetched.ExitCode == 0, $"convnet data failed: {fetched}");
        var all = KaggleCsv.ReadLabelled(Path.Combine(dataDir, "train.csv"));
        var data = all.Subset([.. Enumerable.Range(0, 15_000)]);
        var settings = TrainingSettings.For(Architectures.Simple) with { Epochs = 1, ValidationSplit = 0, Threads = 2, Seed = 1 };
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var run = new Trainer(settings).Train(data);
        output.WriteLine($"trained simple on 15,000 MNIST images for 1 epoch in {clock.Elapsed.TotalSeconds:F1} s");
        return run.Model;
    }
}
