using Microsoft.Playwright;
using Xunit;

namespace Convnet.Tests.Visualization;

/// <summary>
/// Opens the evaluation report in headless Chromium (Debian's /usr/bin/chromium, driven by
/// Playwright; <c>.ci/run</c> installs it): no console errors, no request leaves file://, every
/// image loads, hovering a cell names it, and the page renders to a picture that is not blank.
/// Set CONVNET_VIZ_ARTIFACTS to a folder to keep the report and the screenshot there.
/// </summary>
[Collection(VisualizationCollection.Name)]
[Trait("Category", "Visualization")]
public sealed class ReportBrowserTests(VisualizationFixture fixture)
{
    public const string Chromium = "/usr/bin/chromium";

    [Fact]
    public async Task Report_opens_in_headless_chromium_without_errors_and_every_image_loads()
    {
        Assert.True(File.Exists(Chromium), $"{Chromium} is missing: install Debian's chromium (apt-get install -y chromium), as .ci/run does");
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = Chromium,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
        });
        var page = await browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1280, Height = 900 } });
        var problems = new List<string>();
        page.Console += (_, message) =>
        {
            if (message.Type is "error" or "warning")
            {
                problems.Add($"console {message.Type}: {message.Text}");
            }
        };
        page.PageError += (_, error) => problems.Add($"page error: {error}");
        page.RequestFailed += (_, request) => problems.Add($"request failed: {request.Url} ({request.Failure})");
        page.Request += (_, request) =>
        {
            if (!request.Url.StartsWith("file://", StringComparison.Ordinal))
            {
                problems.Add($"request outside the report: {request.Url}");
            }
        };

        var response = await page.GotoAsync(new Uri(fixture.ReportIndex).AbsoluteUri, new PageGotoOptions { WaitUntil = WaitUntilState.Load });
        Assert.NotNull(response);

        int images = await page.EvaluateAsync<int>("() => document.images.length");
        Assert.True(images >= 5, $"only {images} images in the report");
        var broken = await page.EvaluateAsync<string[]>("() => Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0).map(i => i.getAttribute('src'))");
        Assert.Empty(broken);
        int narrow = await page.EvaluateAsync<int>("() => Array.from(document.images).filter(i => i.naturalWidth < 400).length");
        Assert.Equal(0, narrow);

        // Hovering the middle of the first off-diagonal cell with errors hits its <area>, which names it.
        var hit = await page.EvaluateAsync<string[]>("""
            () => {
              const area = document.querySelector('map#confusion-map area[href^="#errors-"]');
              const img = document.querySelector('img[usemap="#confusion-map"]');
              img.scrollIntoView();
              const [l, t, r, b] = area.coords.split(',').map(Number);
              const box = img.getBoundingClientRect();
              const x = box.left + img.clientLeft + (l + r) / 2, y = box.top + img.clientTop + (t + b) / 2;
              const under = document.elementFromPoint(x, y);
              return [under ? under.tagName : '', under && under.title ? under.title : '', area.title,
                      document.getElementById(area.getAttribute('href').slice(1)) ? 'target' : 'no target'];
            }
            """);
        Assert.Equal("AREA", hit[0]);
        Assert.Equal(hit[2], hit[1]);
        Assert.Matches("^true \\d, predicted \\d: \\d+ errors?", hit[1]);
        Assert.Equal("target", hit[3]);

        string screenshot = fixture.File("report-screenshot.png");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = screenshot, FullPage = true });
        Png.AssertPicture(screenshot);
        Assert.Empty(problems);

        string? keep = Environment.GetEnvironmentVariable("CONVNET_VIZ_ARTIFACTS");
        if (!string.IsNullOrEmpty(keep))
        {
            Directory.CreateDirectory(keep);
            File.Copy(screenshot, Path.Combine(keep, "report-screenshot.png"), overwrite: true);
            foreach (var file in Directory.GetFiles(fixture.ReportDir).Concat([fixture.CurvesPng]))
            {
                File.Copy(file, Path.Combine(keep, Path.GetFileName(file)), overwrite: true);
            }
        }
    }
}
