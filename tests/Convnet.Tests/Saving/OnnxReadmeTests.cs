using Convnet.Architecture;
using Convnet.Saving;
using Convnet.Tensors;
using Convnet.Tests.Cli;
using Convnet.Tests.Data;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Xunit;

namespace Convnet.Tests.Saving;

/// <summary>The README's ONNX Runtime snippet, compiled and run here; a test checks the README still shows these lines.</summary>
public sealed class OnnxReadmeTests
{
    private const string SnippetMarker = "new InferenceSession(\"model.onnx\")";

    [Fact]
    public void TheReadmeSnippet_RunsAnExportedModel()
    {
        using var dir = new TempDir();
        using var model = Architectures.Create("simple", Shape.Image(28, 28, 1), 3, seed: 1, threads: 1);
        model.ClassNames = ["a", "b", "c"];
        string path = dir.File("model.onnx");
        model.SaveOnnx(path);
        var (nhwc, raw) = OnnxRuntimeCheck.RandomImages(model.InputShape, 1, seed: 4);
        float[] pixels = raw;

        // The README's lines, with the file's path for "model.onnx":
        using var session = new InferenceSession(path);
        var input = new DenseTensor<float>(pixels, [1, 1, 28, 28]);
        using var results = session.Run([NamedOnnxValue.CreateFromTensor("pixels", input)]);
        float[] probabilities = [.. results[0].AsTensor<float>()];
        int predicted = Array.IndexOf(probabilities, probabilities.Max());
        string? classNames = session.ModelMetadata.CustomMetadataMap.GetValueOrDefault("class_names");

        float[] ours = model.Predict(nhwc);
        Assert.Equal(Array.IndexOf(ours, ours.Max()), predicted);
        Assert.Equal("[\"a\",\"b\",\"c\"]", classNames);
    }

    [Fact]
    public void TheReadme_ShowsTheSnippetThisTestRuns()
    {
        string root = CliHarness.RepoRoot();
        string readme = File.ReadAllText(Path.Combine(root, "README.md"));
        int marker = readme.IndexOf(SnippetMarker, StringComparison.Ordinal);
        Assert.True(marker >= 0, "README.md has no ONNX Runtime snippet");
        int start = readme.LastIndexOf("```csharp", marker, StringComparison.Ordinal);
        int end = readme.IndexOf("```", marker, StringComparison.Ordinal);
        string[] lines = readme[(start + "```csharp".Length)..end].Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0).ToArray();
        string test = File.ReadAllText(Path.Combine(root, "tests", "Convnet.Tests", "Saving", "OnnxReadmeTests.cs"));
        Assert.True(lines.Length >= 8, $"{lines.Length} lines");
        foreach (string line in lines)
        {
            Assert.Contains(line.Replace("\"model.onnx\"", "path", StringComparison.Ordinal), test, StringComparison.Ordinal);
        }
    }
}
