using Convnet.Saving;
using Convnet.Tests.Data;
using Convnet.Tests.Saving;
using Xunit;

namespace Convnet.Tests.Cli;

public sealed class CliExportTests
{
    [Fact]
    public void Export_WritesAGraphOnnxRuntimeRuns_WithTheTrainingSettings()
    {
        using var dir = new TempDir();
        string model = CliHarness.TrainModel(dir, "model.safetensors", "--seed", "4");
        string onnx = dir.File("model.onnx");
        var result = CliHarness.Succeeds("export", model, "--out", onnx);
        Assert.Equal($"Wrote the model to {onnx} (ONNX opset 13): input 'pixels' float32 [N, 1, 28, 28] of raw pixel values 0-255, output 'probabilities' float32 [N, 10].\n", result.Out.ReplaceLineEndings("\n"));

        using var session = OnnxRuntimeCheck.Open(File.ReadAllBytes(onnx));
        var props = session.ModelMetadata.CustomMetadataMap;
        Assert.Equal("4", props["seed"]);
        Assert.False(props.ContainsKey("tensors_sha256"));

        // The graph's classes are the model's for the same CSV images.
        var digits = CliHarness.Digits();
        var (net, _) = ModelFile.Load(model, threads: 1);
        using (net)
        {
            float[] p = OnnxRuntimeCheck.Run(session, OnnxRuntimeCheck.ToNchw(digits.Pixels, digits.Count, digits.SampleShape), digits.Count, digits.SampleShape);
            int[] ours = Convnet.Models.Classifier.PredictClasses(net, digits);
            for (int i = 0; i < digits.Count; i++)
            {
                var row = p.AsSpan(i * 10, 10);
                Assert.Equal(ours[i], row.IndexOf(System.Linq.Enumerable.Max(row.ToArray())));
            }
        }
    }

    [Fact]
    public void Export_OfAnEnsemble_SaysSo()
    {
        using var dir = new TempDir();
        string model = CliHarness.TrainModel(dir, "ensemble.safetensors", "--ensemble", "2");
        var result = CliHarness.Succeeds("export", model, "-o", dir.File("e.onnx"));
        Assert.StartsWith($"Wrote an ensemble of 2 models to {dir.File("e.onnx")}", result.Out, StringComparison.Ordinal);
        using var session = OnnxRuntimeCheck.Open(File.ReadAllBytes(dir.File("e.onnx")));
        Assert.Equal("probabilities", Assert.Single(session.OutputMetadata).Key);
    }

    [Fact]
    public void Export_Refuses_WithOneLineAndWritesNothing()
    {
        using var dir = new TempDir();
        string missing = dir.File("none.safetensors");
        AssertRefused(dir, ["export", missing, "--out", dir.File("a.onnx")], $"error: model '{missing}' not found");

        string corrupt = dir.Write("corrupt.safetensors", [1, 2, 3]);
        var corruptResult = CliHarness.Run("export", corrupt, "--out", dir.File("a.onnx"));
        Assert.Equal(1, corruptResult.ExitCode);
        Assert.StartsWith($"error: {corrupt}: ", corruptResult.Err, StringComparison.Ordinal);
        Assert.Single(corruptResult.Err.TrimEnd().Split('\n'));

        string model = CliHarness.TrainModel(dir);
        string inMissingFolder = Path.Combine(dir.Path, "no-such-folder", "a.onnx");
        AssertRefused(dir, ["export", model, "--out", inMissingFolder], $"error: cannot write ONNX file '{inMissingFolder}': folder '{Path.GetDirectoryName(inMissingFolder)}' does not exist");
        Assert.False(Directory.Exists(Path.GetDirectoryName(inMissingFolder)));

        byte[] before = File.ReadAllBytes(model);
        AssertRefused(dir, ["export", model, "--out", model], $"error: --out '{model}' is the model file itself; give the ONNX file another name");
        Assert.Equal(before, File.ReadAllBytes(model));
    }

    private static void AssertRefused(TempDir dir, string[] args, string message)
    {
        var before = Directory.GetFileSystemEntries(dir.Path).Order().ToArray();
        var result = CliHarness.Run(args);
        Assert.Equal(1, result.ExitCode);
        Assert.Equal(message + "\n", result.Err.ReplaceLineEndings("\n"));
        Assert.Equal("", result.Out);
        Assert.Equal(before, Directory.GetFileSystemEntries(dir.Path).Order().ToArray());
    }

    [Fact]
    public void ExportHelp_GivesTheInputContractAndTheOpset()
    {
        var help = CliHarness.Run("export", "--help");
        Assert.Equal(0, help.ExitCode);
        foreach (string part in new[] { "'pixels'", "float32 [N, C, H, W]", "0-255", "'probabilities'", "[N, classes]", "opset 13", "Opset 13 is the oldest" })
        {
            Assert.Contains(part, help.Out, StringComparison.Ordinal);
        }
    }
}
