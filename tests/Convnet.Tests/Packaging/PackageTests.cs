using System.Diagnostics;
using System.IO.Compression;
using Convnet.Tests.Cli;
using Convnet.Tests.Data;
using Xunit;

namespace Convnet.Tests.Packaging;

/// <summary>
/// `dotnet pack` makes the library packages (Convnet, and Convnet.Images for image folders) that a
/// fresh console project can take from a local folder feed (`dotnet add package Convnet.Images
/// --source DIR`, which brings Convnet) and a tool package that `dotnet tool install` installs as the
/// command `convnet`; both then train and predict.
/// </summary>
public sealed class PackageTests
{
    // A version no earlier run has put in NuGet's caches, so nothing stale can stand in for this build.
    private static readonly string Version = $"0.0.1-test.{DateTime.UtcNow:yyyyMMddHHmmss}.{Environment.ProcessId}";

    private const string Program = """
        using Convnet.Data;
        using Convnet.Images;
        using Convnet.Layers;
        using Convnet.Models;
        using Convnet.Optimizers;
        using Convnet.Saving;
        using Convnet.Tensors;

        // Two classes of 8×8 images: a bright left half or a bright right half.
        var pixels = new byte[200 * 64];
        var labels = new byte[200];
        for (int i = 0; i < 200; i++)
        {
            labels[i] = (byte)(i % 2);
            for (int p = 0; p < 64; p++)
            {
                pixels[i * 64 + p] = (byte)(((p % 8 < 4) == (i % 2 == 0) ? 200 : 20) + i % 7);
            }
        }
        // The same images as PNG files in class folders, read back through Convnet.Images (SkiaSharp's native library).
        for (int i = 0; i < 200; i++)
        {
            string folder = Path.Combine("images", i % 2 == 0 ? "left" : "right");
            Directory.CreateDirectory(folder);
            File.WriteAllBytes(Path.Combine(folder, $"{i:D3}.png"), ImageDecoder.EncodePng(pixels.AsSpan(i * 64, 64), 8, 8, 1));
        }
        var data = ImageFolder.Load("images").Data;
        Console.WriteLine($"classes {string.Join(", ", data.ClassNames!)}; {data.Count} images of {data.SampleShape}");
        using var model = new Sequential(Shape.Image(8, 8, 1), seed: 1, threads: 1);
        model.Add(new Conv2D(4, 3)).Add(new ReLU()).Add(new Flatten()).Add(new Dense(2)).Add(new Softmax());
        model.Compile(new Adam(1e-2f));
        model.Fit(data, epochs: 3, batchSize: 20, seed: 1);
        model.Save("model.safetensors");
        using var loaded = ModelFile.Load("model.safetensors", threads: 1).Model;
        int correct = loaded.PredictClasses(data).Where((c, i) => c == labels[i]).Count();
        Console.WriteLine($"correct {correct} of 200");
        """;

    [Fact]
    public void The_library_and_the_tool_install_from_a_local_feed_and_train()
    {
        using var dir = new TempDir();
        string feed = Directory.CreateDirectory(dir.File("feed")).FullName;
        string root = CliHarness.RepoRoot();
        string configuration = AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Debug{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ? "Debug" : "Release";
        try
        {
            // The test project has just built both projects in this configuration.
            Dotnet(root, "pack", "src/Convnet", "-c", configuration, "--no-build", "-o", feed, $"-p:PackageVersion={Version}");
            Dotnet(root, "pack", "src/Convnet.Images", "-c", configuration, "--no-build", "-o", feed, $"-p:PackageVersion={Version}");
            Dotnet(root, "pack", "src/Convnet.Cli", "-c", configuration, "--no-build", "-o", feed, $"-p:PackageVersion={Version}");
            AssertLibraryPackage(Path.Combine(feed, $"Convnet.{Version}.nupkg"), "Convnet");
            string images = AssertLibraryPackage(Path.Combine(feed, $"Convnet.Images.{Version}.nupkg"), "Convnet.Images");
            Assert.Contains($"<dependency id=\"Convnet\" version=\"{Version}\"", images, StringComparison.Ordinal);
            Assert.Contains("<dependency id=\"SkiaSharp\" version=\"4.155.0\"", images, StringComparison.Ordinal);
            Assert.Contains("<dependency id=\"SkiaSharp.NativeAssets.Linux\" version=\"4.155.0\"", images, StringComparison.Ordinal);
            Assert.True(File.Exists(Path.Combine(feed, $"Convnet.{Version}.snupkg")), "no symbols package");

            string app = Directory.CreateDirectory(dir.File("app")).FullName;
            File.WriteAllText(Path.Combine(app, "app.csproj"), """
                <Project Sdk="Microsoft.NET.Sdk">
                  <PropertyGroup>
                    <OutputType>Exe</OutputType>
                    <TargetFramework>net10.0</TargetFramework>
                    <Nullable>enable</Nullable>
                    <ImplicitUsings>enable</ImplicitUsings>
                  </PropertyGroup>
                </Project>
                """);
            File.WriteAllText(Path.Combine(app, "Program.cs"), Program);
            Dotnet(app, "add", "package", "Convnet.Images", "--version", Version, "--source", feed);
            string output = Dotnet(app, "run", "-c", "Release");
            Assert.Contains("classes left, right; 200 images of (8, 8, 1)", output, StringComparison.Ordinal);
            var correct = int.Parse(output.Split("correct ")[1].Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
            Assert.True(correct >= 180, output);

            string tools = dir.File("tools");
            Dotnet(dir.Path, "tool", "install", "Convnet.Cli", "--version", Version, "--tool-path", tools, "--add-source", feed);
            string convnet = Path.Combine(tools, "convnet");
            string csv = CliHarness.WriteDigits(dir, "train.csv");
            Run(convnet, dir.Path, "train", csv, "--model", dir.File("m.safetensors"), "--epochs", "1", "--batch-size", "16", "--validation-split", "0", "--threads", "1");
            string predicted = Run(convnet, dir.Path, "predict", csv, "--model", dir.File("m.safetensors"), "--out", dir.File("submission.csv"));
            Assert.Contains("Wrote 60 predictions", predicted, StringComparison.Ordinal);
        }
        finally
        {
            // The packages this run added to NuGet's global folder (the tool goes to its own path).
            string packages = Environment.GetEnvironmentVariable("NUGET_PACKAGES") ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
            foreach (string id in new[] { "convnet", "convnet.images", "convnet.cli" })
            {
                string cached = Path.Combine(packages, id, Version);
                if (Directory.Exists(cached))
                {
                    Directory.Delete(cached, recursive: true);
                }
            }
        }
    }

    /// <summary>Checks the assembly, its XML documentation, the readme and the licence; returns the nuspec.</summary>
    private static string AssertLibraryPackage(string nupkg, string assembly)
    {
        using var zip = ZipFile.OpenRead(nupkg);
        var names = zip.Entries.Select(e => e.FullName).ToHashSet();
        Assert.Contains($"lib/net10.0/{assembly}.dll", names);
        Assert.Contains($"lib/net10.0/{assembly}.xml", names);
        Assert.Contains("PACKAGE.md", names);
        using var nuspec = new StreamReader(zip.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal)).Open());
        string text = nuspec.ReadToEnd();
        Assert.Contains("<license type=\"expression\">MIT</license>", text, StringComparison.Ordinal);
        Assert.Contains("<readme>PACKAGE.md</readme>", text, StringComparison.Ordinal);
        return text;
    }

    private static string Dotnet(string workingDirectory, params string[] args) => Run("dotnet", workingDirectory, args);

    /// <summary>Runs a process to completion (at most 5 minutes) and returns its output; a non-zero exit fails the test with everything it printed.</summary>
    private static string Run(string file, string workingDirectory, params string[] args)
    {
        var start = new ProcessStartInfo(file) { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        start.Environment["DOTNET_NOLOGO"] = "1";
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEndAsync();
        string output = process.StandardOutput.ReadToEnd();
        if (!process.WaitForExit(TimeSpan.FromMinutes(5)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{file} {string.Join(' ', args)} did not finish in 5 minutes");
        }
        Assert.True(process.ExitCode == 0, $"{file} {string.Join(' ', args)} exited {process.ExitCode}\n{output}\n{error.Result}");
        return output;
    }
}
