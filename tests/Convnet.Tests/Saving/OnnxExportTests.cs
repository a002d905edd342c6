using Convnet.Architecture;
using Convnet.IO.Onnx;
using Convnet.Layers;
using Convnet.Models;
using Convnet.Optimizers;
using Convnet.Saving;
using Convnet.Tensors;
using Convnet.Tests.Models;
using Xunit;

namespace Convnet.Tests.Saving;

/// <summary>Exported graphs, loaded and run by ONNX Runtime, against our own forward pass.</summary>
public sealed class OnnxExportTests
{
    private const float Tolerance = 1e-4f;

    /// <summary>Gives every BatchNormalization non-trivial γ, β and moving statistics, so the inference form is really tested.</summary>
    private static void RandomizeBatchNorm(Sequential model, int seed)
    {
        var rng = new Random(seed);
        foreach (var bn in model.Layers.OfType<BatchNormalization>())
        {
            var t = bn.SaveOwnTensors();
            for (int c = 0; c < t[0].Length; c++)
            {
                t[0][c] = 0.5f + (float)rng.NextDouble();
                t[1][c] = (float)rng.NextDouble() - 0.5f;
                t[2][c] = (float)rng.NextDouble() - 0.5f;
                t[3][c] = 0.2f + 2 * (float)rng.NextDouble();
            }
            bn.LoadOwnTensors(t);
        }
    }

    /// <summary>Our probabilities for NHWC inputs scaled to 0–1: Predict, through a softmax when the model does not end with one.</summary>
    private static float[] OurProbabilities(IClassifier model, float[] nhwc)
    {
        float[] outputs = model.Predict(nhwc);
        if (model is Sequential s && s.Layers[^1] is not Softmax)
        {
            Convnet.Kernels.Softmax.Forward(outputs, outputs.Length / s.Classes, s.Classes, outputs);
        }
        return outputs;
    }

    /// <summary>Exports, loads in ONNX Runtime and compares every probability, for batches of 1 and <paramref name="n"/>.</summary>
    private static void AssertAgrees(IClassifier model, int n = 6, int seed = 1)
    {
        byte[] onnx = model.ToOnnx().ToBytes();
        using var session = OnnxRuntimeCheck.Open(onnx);
        foreach (int batch in new[] { 1, n })
        {
            var (nhwc, nchw) = OnnxRuntimeCheck.RandomImages(model.InputShape, batch, seed + batch);
            float[] ours = OurProbabilities(model, nhwc);
            float[] theirs = OnnxRuntimeCheck.Run(session, nchw, batch, model.InputShape);
            Assert.Equal(ours.Length, theirs.Length);
            float worst = 0;
            for (int i = 0; i < ours.Length; i++)
            {
                worst = Math.Max(worst, Math.Abs(ours[i] - theirs[i]));
            }
            Assert.True(worst <= Tolerance, $"largest probability difference {worst:E3} > {Tolerance:E0} (batch {batch})");
        }
    }

    [Theory]
    [InlineData("conv4k3-relu,maxpool2,flatten,dense16-relu", 12, 12, 1, 5)]
    [InlineData("conv4k3same-relu,conv6k3s2same-leakyrelu,avgpool2,flatten", 11, 11, 3, 4)]
    [InlineData("conv4k4s2same-bn-relu,conv5k3s2-relu,gap,drop0.5", 10, 10, 3, 6)]
    [InlineData("conv3k5s3,maxpool3s2,flatten,bn,dense8,leakyrelu0.2,drop0.3", 17, 13, 1, 3)]
    [InlineData("conv6k2same-bn,avgpool3s1,conv4k1,gap", 9, 8, 3, 2)]
    [InlineData("conv4k3s2-relu,conv4k2s2same,maxpool2s1,flatten", 14, 14, 1, 7)]
    [InlineData("flatten,dense10-relu,bn,dense4", 5, 5, 3, 4)]
    [InlineData("conv8k3same-relu-bn,conv8k3-relu,gap,dense5,softmax", 6, 7, 1, 5)]
    public void EveryLayerKind_StridePaddingAndChannelCount_AgreesWithOnnxRuntime(string spec, int height, int width, int channels, int classes)
    {
        using var model = ArchitectureSpec.Build(spec, Shape.Image(height, width, channels), classes, seed: 5, threads: 1);
        RandomizeBatchNorm(model, 7);
        AssertAgrees(model);
    }

    [Theory]
    [InlineData("simple")]
    [InlineData("general")]
    [InlineData("strong")]
    public void TheRecipes_AgreeWithOnnxRuntime(string recipe)
    {
        using var model = Architectures.Create(recipe, Shape.Image(28, 28, 1), 10, seed: 3, threads: 1);
        RandomizeBatchNorm(model, 11);
        AssertAgrees(model, n: 4);
    }

    [Fact]
    public void AModelWithoutAFinalSoftmax_GetsOne()
    {
        using var model = new Sequential(Shape.Image(6, 6, 1), seed: 2, threads: 1);
        model.Add(new Conv2D(2, 3)).Add(new Flatten()).Add(new Dense(3));
        var graph = model.ToOnnx().Graph;
        Assert.Equal("Softmax", graph.Nodes[^2].OpType);
        AssertAgrees(model);
    }

    [Fact]
    public void AnEnsemble_IsOneGraphAveragingItsMembers()
    {
        var input = Shape.Image(28, 28, 1);
        var members = new[]
        {
            Architectures.Create("simple", input, 10, seed: 1, threads: 1),
            Architectures.Create("general", input, 10, seed: 2, threads: 1),
            ArchitectureSpec.Build("conv8k5s2same-bn-relu,gap", input, 10, seed: 3, threads: 1),
        };
        foreach (var m in members)
        {
            RandomizeBatchNorm(m, 13);
        }
        using var ensemble = new Ensemble(members);
        var graph = ensemble.ToOnnx().Graph;
        var mean = graph.Nodes[^1];
        Assert.Equal("Mean", mean.OpType);
        Assert.Equal(3, mean.Inputs.Count);
        Assert.All(graph.Initializers.Where(t => t.Name != "pixel_divisor"), t => Assert.Matches("^member[0-2]/", t.Name));
        AssertAgrees(ensemble, n: 5);
    }

    [Fact]
    public void TheGraph_DeclaresTheInputContract_AndCarriesMetadata()
    {
        using var model = ArchitectureSpec.Build("conv4k3-relu,flatten", Shape.Image(9, 10, 3), 3, seed: 1, threads: 1);
        model.ClassNames = ["cat", "dog", "é \"quoted\""];
        var metadata = new Dictionary<string, string> { ["seed"] = "1", ["recipe"] = "custom", ["format"] = "convnet", ["tensors_sha256"] = "ab" };
        byte[] onnx = model.ToOnnx(metadata).ToBytes();
        using var session = OnnxRuntimeCheck.Open(onnx);

        var input = Assert.Single(session.InputMetadata);
        Assert.Equal("pixels", input.Key);
        Assert.Equal([-1, 3, 9, 10], input.Value.Dimensions);
        Assert.Equal("N", input.Value.SymbolicDimensions[0]);
        var output = Assert.Single(session.OutputMetadata);
        Assert.Equal("probabilities", output.Key);
        Assert.Equal([-1, 3], output.Value.Dimensions);

        var props = session.ModelMetadata.CustomMetadataMap;
        Assert.Equal(["cat", "dog", "é \"quoted\""], System.Text.Json.JsonSerializer.Deserialize<string[]>(props["class_names"])!);
        Assert.Equal("1", props["seed"]);
        Assert.Equal("custom", props["recipe"]);
        Assert.False(props.ContainsKey("format"));
        Assert.False(props.ContainsKey("tensors_sha256"));
        Assert.Equal("convnet", session.ModelMetadata.ProducerName);

        var parsed = OnnxModel.Parse(onnx, "m.onnx");
        Assert.Equal(13, parsed.DefaultOperatorSetVersion);
        Assert.Equal(7, parsed.IrVersion);
        Assert.Equal(onnx, model.ToOnnx(metadata).ToBytes());
    }

    [Fact]
    public void SameSpecPadding_PutsTheOddPixelAtTheBottomRight()
    {
        using var model = ArchitectureSpec.Build("conv2k4s2same,flatten", Shape.Image(7, 8, 1), 2, seed: 1, threads: 1);
        var conv = model.ToOnnx().Graph.Nodes.Single(n => n.OpType == "Conv");
        // Height 7, stride 2 → 4 rows, 3·2 + 4 − 7 = 3 padding rows: 1 on top, 2 below; width 8 → 4 columns, 2: 1 and 1.
        Assert.Equal([1L, 1, 2, 1], conv.Attribute("pads")!.Ints);
    }

    [Fact]
    public void AShortTrainedModel_PredictsTheSameClassesInOnnxRuntime()
    {
        var train = SyntheticDigits.Create(500, seed: 3);
        var test = SyntheticDigits.Create(1000, seed: 9);
        using var model = Architectures.Create("simple", train.SampleShape, 10, seed: 1, threads: 1);
        model.Compile(new Adam(1e-3f));
        model.Fit(train, epochs: 3, batchSize: 32, seed: 1);

        using var session = OnnxRuntimeCheck.Open(model.ToOnnx().ToBytes());
        float[] theirs = OnnxRuntimeCheck.Run(session, OnnxRuntimeCheck.ToNchw(test.Pixels, test.Count, test.SampleShape), test.Count, test.SampleShape);
        int[] ours = model.PredictClasses(test);
        float[] ourProbabilities = model.Predict(test);
        int differ = 0, correct = 0;
        for (int i = 0; i < test.Count; i++)
        {
            var row = theirs.AsSpan(i * 10, 10);
            int best = 0;
            for (int k = 1; k < 10; k++)
            {
                best = row[k] > row[best] ? k : best;
                Assert.True(Math.Abs(row[k] - ourProbabilities[i * 10 + k]) <= Tolerance, $"image {i} class {k}");
            }
            differ += best == ours[i] ? 0 : 1;
            correct += ours[i] == test.Label(i) ? 1 : 0;
        }
        Assert.Equal(0, differ);
        // Trained enough that the classes mean something.
        Assert.True(correct > 500, $"{correct} of 1000 correct");
    }

    /// <summary>A layer kind without an ONNX form (the identity), to see how export refuses it.</summary>
    private sealed class OpaqueLayer : Layer
    {
        public override string TypeName => "Opaque";
        public override IReadOnlyDictionary<string, string> Config => new Dictionary<string, string>();
        public override Shape ComputeOutputShape(Shape input) => input;
        public override string FormatToken() => throw new NotSupportedException();
        public override Tensor Forward(Tensor x, bool training) => x;
        public override Tensor? Backward(Tensor dy) => dy;
    }

    [Fact]
    public void ALayerWithoutAnOnnxForm_IsRefusedByName_AndNothingIsWritten()
    {
        using var dir = new Data.TempDir();
        using var model = new Sequential(Shape.Image(6, 6, 1), seed: 2, threads: 1);
        model.Add(new Conv2D(2, 3)).Add(new OpaqueLayer()).Add(new Flatten()).Add(new Dense(3)).Add(new Softmax());
        string path = dir.Write("m.onnx", [1, 2, 3]);
        var e = Assert.Throws<NotSupportedException>(() => model.SaveOnnx(path));
        Assert.Equal("Opaque layers cannot be exported to ONNX.", e.Message);
        Assert.Equal([1, 2, 3], File.ReadAllBytes(path));
        Assert.Equal([path], Directory.GetFiles(dir.Path));
    }

    [Fact]
    public void SaveOnnx_WritesTheBytesAtomically_AndFailsWithoutLeavingAFile()
    {
        using var dir = new Data.TempDir();
        using var model = ArchitectureSpec.Build("conv4k3-relu,flatten", Shape.Image(8, 8, 1), 3, seed: 1, threads: 1);
        string path = dir.File("m.onnx");
        model.SaveOnnx(path);
        Assert.Equal(model.ToOnnx().ToBytes(), File.ReadAllBytes(path));
        Assert.Single(Directory.GetFiles(dir.Path));

        Directory.CreateDirectory(dir.File("folder.onnx"));
        Assert.ThrowsAny<IOException>(() => model.SaveOnnx(dir.File("folder.onnx")));
        Assert.Equal([path], Directory.GetFiles(dir.Path));
    }
}
