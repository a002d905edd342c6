using Convnet.IO;
using Convnet.IO.Onnx;
using Convnet.Saving;
using Convnet.Tests.Data;
using Convnet.Tests.Saving;
using Xunit;

namespace Convnet.Tests.Cli;

/// <summary><c>convnet import</c>, and fine-tuning what it wrote with <c>train --from</c>.</summary>
public class CliImportTests
{
    /// <summary>Conv 4×3×3 (with BatchNormalization when <paramref name="bn"/>) - ReLU - MaxPool 2 - Flatten - Gemm to 10 classes over 28×28×1, as PyTorch would export it (no Softmax).</summary>
    private static string WriteSmallNetwork(TempDir dir, string name, bool bn = false, string? extraOp = null)
    {
        var onnx = OnnxImportTests.Graph(28, 28, 1, (b, x) =>
        {
            string y = b.AddNode("Conv", [x, b.AddInitializer("0.weight", [4, 1, 3, 3], OnnxImportTests.Random(36, 1)), b.AddInitializer("0.bias", [4], OnnxImportTests.Random(4, 2))], "conv");
            if (bn)
            {
                y = b.AddNode("BatchNormalization", [y, b.AddInitializer("g", [4], [1f, 1f, 1f, 1f]), b.AddInitializer("b", [4], new float[4]), b.AddInitializer("m", [4], new float[4]), b.AddInitializer("v", [4], [1f, 1f, 1f, 1f])], "bn");
            }
            y = b.AddNode("Relu", [y], "relu");
            if (extraOp is not null)
            {
                y = b.AddNode(extraOp, [y], "extra");
            }
            y = b.AddNode("MaxPool", [y], "pool", OnnxAttribute.Of("kernel_shape", 2L, 2L), OnnxAttribute.Of("strides", 2L, 2L));
            y = b.AddNode("Flatten", [y], "flat");
            return b.AddNode("Gemm", [y, b.AddInitializer("fc.weight", [10, 676], OnnxImportTests.Random(6760, 3, 0.05f))], "fc", OnnxAttribute.Of("transB", 1L));
        });
        return dir.Write(name, onnx.ToBytes());
    }

    [Fact]
    public void Import_writes_a_model_file_that_evaluates_and_fine_tunes()
    {
        using var dir = new TempDir();
        string onnx = WriteSmallNetwork(dir, "small.onnx", bn: true);
        string model = dir.File("imported.safetensors");
        var result = CliHarness.Succeeds("import", onnx, "--out", model);
        Assert.Equal($"Imported {onnx} (test): 7 layers, 6,818 parameters, images of 28×28×1, 10 classes. Saved {model}.", result.Out.TrimEnd());
        var (loaded, metadata) = ModelFile.Load(model, threads: 1);
        using (loaded)
        {
            Assert.Equal(["Conv2D", "BatchNormalization", "ReLU", "MaxPooling2D", "Flatten", "Dense", "Softmax"], loaded.Layers.Select(l => l.TypeName));
            Assert.Equal("small.onnx", metadata["imported_from"]);
        }

        string csv = CliHarness.WriteDigits(dir, "digits.csv");
        CliHarness.Succeeds("evaluate", csv, "--model", model);
        string tuned = dir.File("tuned.safetensors");
        var train = CliHarness.Succeeds(["train", csv, "--from", model, "--model", tuned, .. CliHarness.TinyTraining]);
        Assert.Contains($"Starting from {model}: every layer's weights.", train.Out);
        // The imported BatchNormalization's epsilon (1e-5, ONNX's default) is no spec's: no arch_spec, the layers as in the file.
        var (_, tunedMetadata) = SafeTensors.Read(tuned);
        Assert.False(tunedMetadata.ContainsKey("arch_spec"));
        Assert.Equal(metadata["architecture"], tunedMetadata["architecture"]);
    }

    [Fact]
    public void Import_refuses_an_unsupported_op_in_one_line_and_writes_nothing()
    {
        using var dir = new TempDir();
        string onnx = WriteSmallNetwork(dir, "tanh.onnx", extraOp: "Tanh");
        string model = dir.Write("model.safetensors", [7]);
        var result = CliHarness.Run("import", onnx, "--out", model);
        Assert.Equal(1, result.ExitCode);
        Assert.Equal($"error: {onnx}: node 2 'Tanh' (Tanh): unsupported op 'Tanh'; convnet imports {OnnxImport.Ops}", result.Err.TrimEnd());
        Assert.Equal([7], File.ReadAllBytes(model));

        string missing = dir.File("missing.onnx");
        result = CliHarness.Run("import", missing, "--out", model);
        Assert.Equal((1, $"error: ONNX '{missing}' not found"), (result.ExitCode, result.Err.TrimEnd()));

        string garbage = dir.Write("garbage.onnx", [0xFF, 0xFF, 0xFF]);
        result = CliHarness.Run("import", garbage, "--out", model);
        Assert.Equal(1, result.ExitCode);
        Assert.StartsWith($"error: {garbage}: ", result.Err);
        Assert.Single(result.Err.TrimEnd().Split('\n'));
        Assert.Equal([7], File.ReadAllBytes(model));
    }
}
