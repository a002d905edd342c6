using Convnet.Architecture;
using Convnet.Data;
using Convnet.IO;
using Convnet.IO.Onnx;
using Convnet.Layers;
using Convnet.Models;
using Convnet.Saving;
using Convnet.Tensors;
using Convnet.Tests.Cli;
using Convnet.Tests.Data;
using Xunit;

namespace Convnet.Tests.Saving;

/// <summary>Our export read back by our import: the same weights bit for bit, the same layers (Dropout aside), metadata and predictions.</summary>
public class OnnxRoundTripTests
{
    [Theory]
    [InlineData("simple", 28, 28, 1, 10)]
    [InlineData("general", 28, 28, 1, 10)]
    [InlineData("strong", 28, 28, 1, 10)]
    [InlineData("conv4k3same-relu,conv6k3s2same-leakyrelu,avgpool2,flatten", 11, 11, 3, 4)]
    [InlineData("conv4k4s2same-bn-relu,conv5k3s2-relu,gap,drop0.5", 10, 10, 3, 6)]
    [InlineData("conv3k5s3,maxpool3s2,flatten,bn,dense8,leakyrelu0.2,drop0.3", 17, 13, 1, 3)]
    [InlineData("conv6k2same-bn,avgpool3s1,conv4k1,gap", 9, 8, 3, 2)]
    [InlineData("flatten,dense10-relu,bn,dense4", 5, 5, 3, 4)]
    public void Export_then_import_gives_bit_identical_weights_layers_metadata_and_predictions(string arch, int height, int width, int channels, int classes)
    {
        var input = Shape.Image(height, width, channels);
        using var model = Architectures.Create(arch, input, classes, seed: 5, threads: 1);
        var rng = new System.Random(3);
        foreach (var bn in model.Layers.OfType<BatchNormalization>())
        {
            var t = bn.SaveOwnTensors();
            foreach (var tensor in t)
            {
                for (int i = 0; i < tensor.Length; i++)
                {
                    tensor[i] = 0.5f + (float)rng.NextDouble();
                }
            }
            bn.LoadOwnTensors(t);
        }
        model.ClassNames = [.. Enumerable.Range(0, classes).Select(k => $"class {k}")];
        var metadata = new Dictionary<string, string> { ["epochs"] = "3", ["seed"] = "5", ["arch"] = arch };

        var bytes = model.ToOnnx(metadata).ToBytes();
        var (imported, importedMetadata) = OnnxImport.Read(OnnxModel.Parse(bytes, "rt.onnx"), "rt.onnx", threads: 1);
        using (imported)
        {
            Assert.Equal(model.GetWeights(), imported.GetWeights());
            var expected = model.Layers.Where(l => l is not Dropout).ToList();
            Assert.Equal(expected.Select(l => l.TypeName), imported.Layers.Select(l => l.TypeName));
            Assert.Equal(expected.Select(l => l.Config), imported.Layers.Select(l => l.Config));
            Assert.Equal(model.ClassNames, imported.ClassNames);
            foreach (var (key, value) in metadata)
            {
                Assert.Equal(value, importedMetadata[key]);
            }
            Assert.StartsWith("convnet ", importedMetadata["onnx_producer"]);

            var pixels = new byte[7 * input.Size];
            rng.NextBytes(pixels);
            var data = new Dataset(pixels, null, input);
            Assert.Equal(model.Predict(data), imported.Predict(data));
        }
    }

    [Fact]
    public void Convnet_export_then_import_gives_the_same_tensors_and_training_metadata()
    {
        using var dir = new TempDir();
        string model = CliHarness.TrainModel(dir, "model.safetensors", "--arch", "simple");
        string onnx = dir.File("model.onnx");
        CliHarness.Succeeds("export", model, "--out", onnx);
        string back = dir.File("back.safetensors");
        CliHarness.Succeeds("import", onnx, "--out", back);
        var (tensors, metadata) = SafeTensors.Read(model);
        var (backTensors, backMetadata) = SafeTensors.Read(back);
        Assert.Equal(tensors.Select(t => (t.Name, t.Shape)), backTensors.Select(t => (t.Name, t.Shape)));
        Assert.Equal(tensors.Select(t => t.Data), backTensors.Select(t => t.Data));
        foreach (var (key, value) in metadata)
        {
            Assert.True(backMetadata.TryGetValue(key, out var kept) && kept == value, $"metadata '{key}': '{value}' exported, '{kept}' imported");
        }
        Assert.Equal("model.onnx", backMetadata["imported_from"]);
    }
}
