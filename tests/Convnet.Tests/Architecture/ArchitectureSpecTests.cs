using Convnet.Tests.Models;
using Convnet.Layers;
using Convnet.Models;
using Convnet.Tensors;
using Xunit;
using Convnet.Architecture;
using Convnet.Saving;

namespace Convnet.Tests.Architecture;

/// <summary>The one-line architecture grammar: every token kind, round trips, the recipes, and errors that point at the bad token.</summary>
public class ArchitectureSpecTests
{
    private static readonly Shape Mnist = Shape.Image(28, 28, 1);

    private static string Describe(Layer layer)
        => layer.TypeName + string.Concat(layer.Config.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $" {p.Key}={p.Value}"));

    [Theory]
    [InlineData("conv32k3", "Conv2D filters=32 kernel_size=3 padding=valid stride=1")]
    [InlineData("conv8k5s2", "Conv2D filters=8 kernel_size=5 padding=valid stride=2")]
    [InlineData("conv8k5s2same", "Conv2D filters=8 kernel_size=5 padding=same stride=2")]
    [InlineData("conv8k3valid", "Conv2D filters=8 kernel_size=3 padding=valid stride=1")]
    [InlineData("conv4k3same", "Conv2D filters=4 kernel_size=3 padding=same stride=1")]
    [InlineData("maxpool2", "MaxPooling2D pool_size=2 stride=2")]
    [InlineData("maxpool3s2", "MaxPooling2D pool_size=3 stride=2")]
    [InlineData("avgpool2", "AveragePooling2D pool_size=2 stride=2")]
    [InlineData("avgpool3s1", "AveragePooling2D pool_size=3 stride=1")]
    [InlineData("gap", "GlobalAveragePooling2D")]
    [InlineData("bn", "BatchNormalization epsilon=0.001 momentum=0.99")]
    [InlineData("relu", "ReLU")]
    [InlineData("drop0.4", "Dropout rate=0.4")]
    [InlineData("drop0", "Dropout rate=0")]
    [InlineData("flatten", "Flatten")]
    [InlineData("dense128", "Dense units=128")]
    [InlineData("softmax", "Softmax")]
    public void Each_token_kind_makes_its_layer(string token, string expected)
    {
        var layers = ArchitectureSpec.Parse(token);
        Assert.Equal(expected, Describe(Assert.Single(layers)));
    }

    [Fact]
    public void Dashes_join_layers_within_a_token_and_spaces_around_commas_are_ignored()
    {
        var layers = ArchitectureSpec.Parse("conv8k3-bn-relu , maxpool2,flatten,dense10-softmax");
        Assert.Equal(["Conv2D", "BatchNormalization", "ReLU", "MaxPooling2D", "Flatten", "Dense", "Softmax"], layers.Select(l => l.TypeName));
    }

    [Theory]
    [InlineData("conv32k3-bn-relu,conv32k3-bn-relu,conv32k5s2-bn-relu,drop0.4,conv64k3-bn-relu,conv64k3-bn-relu,conv64k5s2-bn-relu,drop0.4,conv128k4-bn-relu,flatten,drop0.4,dense10")]
    [InlineData("conv8k3same-relu,maxpool3s2,avgpool2,conv4k1s1-bn,gap,dense16-relu,drop0.25,dense10-softmax")]
    [InlineData("flatten,dense10")]
    public void Format_of_parse_gives_the_canonical_spec_back(string spec)
    {
        string formatted = ArchitectureSpec.Format(ArchitectureSpec.Parse(spec));
        Assert.Equal(spec.Replace("conv4k1s1", "conv4k1", StringComparison.Ordinal), formatted);
        Assert.Equal(formatted, ArchitectureSpec.Format(ArchitectureSpec.Parse(formatted)));
    }

    [Fact]
    public void The_simple_recipe_spec_builds_the_reference_model_bit_for_bit()
    {
        using var reference = Architectures.Create("simple", Mnist, 10, seed: 3, threads: 1);
        using var fromSpec = ArchitectureSpec.Build(Architectures.Simple.Spec, Mnist, 10, seed: 3, threads: 1);
        Assert.Equal(ModelFile.ArchitectureJson(reference), ModelFile.ArchitectureJson(fromSpec));
        Assert.Equal(reference.GetWeights(), fromSpec.GetWeights());
        Assert.Equal(reference.Summary().Replace("\"simple\"", "\"custom\"", StringComparison.Ordinal), fromSpec.Summary());
    }

    [Fact]
    public void The_strong_recipe_has_the_Kaggle_notebook_shape_and_parameter_count()
    {
        using var model = Architectures.Create("strong", Mnist, 10, seed: 1, threads: 1);
        // 28 → 26 → 24 → (5×5 same, stride 2) 12 → 10 → 8 → 4 → (4×4 valid) 1×1×128.
        var conv = model.Layers.OfType<Conv2D>().Select(c => c.OutputShape.ToString());
        Assert.Equal(["(26, 26, 32)", "(24, 24, 32)", "(12, 12, 32)", "(10, 10, 64)", "(8, 8, 64)", "(4, 4, 64)", "(1, 1, 128)"], conv);
        // Convolutions 320 + 9,248 + 25,632 + 18,496 + 36,928 + 102,464 + 131,200 = 324,288; BN γ, β 2·(3·32 + 3·64 + 128) = 832;
        // Dense 128·10 + 10 = 1,290: trainable 326,410; BN moving mean and variance 832 more: 327,242 as Keras reports.
        Assert.Equal(326_410, model.ParameterCount);
        Assert.Equal(832, model.NonTrainableParameterCount);
        Assert.IsType<Softmax>(model.Layers[^1]);
        Assert.Equal(10, ((Dense)model.Layers[^2]).Units);
        Assert.Equal(3, model.Layers.OfType<Dropout>().Count());
    }

    [Fact]
    public void Build_appends_the_classifier_only_where_missing()
    {
        using var bare = ArchitectureSpec.Build("flatten", Mnist, 3, seed: 1, threads: 1);
        Assert.Equal(["Flatten", "Dense", "Softmax"], bare.Layers.Select(l => l.TypeName));
        Assert.Equal(3, bare.Classes);
        using var full = ArchitectureSpec.Build("flatten,dense3-softmax", Mnist, 3, seed: 1, threads: 1);
        Assert.Equal(["Flatten", "Dense", "Softmax"], full.Layers.Select(l => l.TypeName));
        using var hidden = ArchitectureSpec.Build("flatten,dense8-relu", Mnist, 3, seed: 1, threads: 1);
        Assert.Equal(["Flatten", "Dense", "ReLU", "Dense", "Softmax"], hidden.Layers.Select(l => l.TypeName));
    }

    [Fact]
    public void A_model_files_architecture_json_builds_the_same_model()
    {
        using var model = Architectures.Create("strong", Mnist, 10, seed: 5, threads: 1);
        string json = ModelFile.ArchitectureJson(model);
        using var again = ArchitectureSpec.FromJson(json, Mnist, 10, seed: 5, threads: 1);
        Assert.Equal(json, ModelFile.ArchitectureJson(again));
        Assert.Equal(model.GetWeights(), again.GetWeights());
        Assert.Equal(Architectures.Strong.Spec + ",dense10-softmax", ArchitectureSpec.Format(again.Layers));
    }

    [Theory]
    [InlineData("conv8k3,maxpool2,conv32k", 3, 17, "missing kernel size after 'k'")]
    [InlineData("conv8k3,conv", 2, 8, "missing the number of filters after 'conv'")]
    [InlineData("conv8,flatten", 1, 0, "missing 'k<kernel size>'")]
    [InlineData("conv8k3x,flatten", 1, 0, "unexpected 'x'")]
    [InlineData("flatten,dense", 2, 8, "missing the number of units after 'dense'")]
    [InlineData("conv8k3-bn-rellu,flatten", 1, 0, "unknown layer 'rellu'")]
    [InlineData("conv8k3, ,flatten", 2, 9, "empty token")]
    [InlineData("conv8k3,flatten,", 3, 16, "empty token")]
    [InlineData("conv8k3--relu", 1, 0, "empty layer")]
    [InlineData("flatten,drop1.5", 2, 8, "dropout rate '1.5' is not a number in [0, 1)")]
    [InlineData("flatten,dropx", 2, 8, "dropout rate 'x'")]
    [InlineData("conv0k3", 1, 0, "filters must be at least 1")]
    [InlineData("maxpool2s0", 1, 0, "stride must be at least 1")]
    [InlineData("", 1, 0, "the spec is empty")]
    public void Syntax_errors_name_the_token_and_its_position(string spec, int token, int column, string problem)
    {
        var e = Assert.Throws<ArchitectureSpecException>(() => ArchitectureSpec.Parse(spec));
        Assert.IsAssignableFrom<FormatException>(e);
        Assert.Equal(token, e.TokenNumber);
        Assert.Equal(column, e.Column);
        Assert.StartsWith($"arch spec: token {token} '{e.Token}': ", e.Message, StringComparison.Ordinal);
        Assert.Contains(problem, e.Message, StringComparison.Ordinal);
        // The spec, then a caret under the token.
        string[] lines = e.Message.Split('\n');
        Assert.Equal("  " + spec, lines[1]);
        Assert.Equal(new string(' ', 2 + column) + "^", lines[2]);
    }

    [Fact]
    public void The_brief_example_message()
    {
        var e = Assert.Throws<ArchitectureSpecException>(() => ArchitectureSpec.Parse("conv32k3,maxpool2,conv32k"));
        Assert.StartsWith("arch spec: token 3 'conv32k': missing kernel size after 'k'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Layers_that_do_not_fit_the_input_are_reported_at_their_token()
    {
        var e = Assert.Throws<ArchitectureSpecException>(() => ArchitectureSpec.Build("conv8k3,maxpool2,conv8k20,flatten", Mnist, 10, seed: 1, threads: 1));
        Assert.Equal(3, e.TokenNumber);
        Assert.Contains("Conv2D after output (13, 13, 8)", e.Message, StringComparison.Ordinal);

        var dense = Assert.Throws<ArchitectureSpecException>(() => ArchitectureSpec.Build("flatten,dense5", Mnist, 10, seed: 1, threads: 1));
        Assert.Equal(2, dense.TokenNumber);
        Assert.Contains("the final dense has 5 units but there are 10 classes", dense.Message, StringComparison.Ordinal);

        var image = Assert.Throws<ArchitectureSpecException>(() => ArchitectureSpec.Build("conv8k3", Mnist, 10, seed: 1, threads: 1));
        Assert.Contains("add 'flatten' or 'gap'", image.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Create_takes_names_specs_and_json_files()
    {
        Assert.Equal(["simple", "general", "strong"], Architectures.Names);
        using var spec = Architectures.Create("flatten,dense16-relu", Mnist, 10, seed: 1, threads: 1);
        Assert.Equal(784 * 16 + 16 + 16 * 10 + 10, spec.ParameterCount);

        using var dir = new Convnet.Tests.Data.TempDir();
        string path = dir.File("arch.json");
        File.WriteAllText(path, ModelFile.ArchitectureJson(spec));
        using var fromFile = Architectures.Create(path, Mnist, 10, seed: 1, threads: 1);
        Assert.Equal(spec.GetWeights(), fromFile.GetWeights());

        File.WriteAllText(path, "[{\"type\": \"Conv3D\"}]");
        var e = Assert.Throws<ArchitectureSpecException>(() => Architectures.Create(path, Mnist, 10, seed: 1, threads: 1));
        Assert.Contains("unknown layer type 'Conv3D'", e.Message, StringComparison.Ordinal);
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
    }
}
