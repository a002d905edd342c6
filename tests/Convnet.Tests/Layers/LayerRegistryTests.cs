using Convnet.Architecture;
using Convnet.Layers;
using Convnet.Models;
using Convnet.Tensors;
using Xunit;

namespace Convnet.Tests.Layers;

/// <summary>
/// Every registered layer knows itself: its config and its spec token make the same layer again,
/// its declared tensors are what it builds, and its type name finds it in the registry.
/// </summary>
public class LayerRegistryTests
{
    /// <summary>One layer of each kind with non-default settings where it has any, and an input it takes.</summary>
    public static TheoryData<string, Shape> Examples => new()
    {
        { "conv6k3s2same", Shape.Image(9, 9, 3) },
        { "conv4k2", Shape.Image(5, 5, 2) },
        { "maxpool3s2", Shape.Image(9, 9, 2) },
        { "avgpool2", Shape.Image(6, 6, 3) },
        { "gap", Shape.Image(4, 4, 5) },
        { "bn", Shape.Image(4, 4, 5) },
        { "bn", Shape.Vector(7) },
        { "relu", Shape.Vector(7) },
        { "leakyrelu0.1", Shape.Image(2, 3, 4) },
        { "drop0.25", Shape.Vector(7) },
        { "flatten", Shape.Image(3, 4, 2) },
        { "dense12", Shape.Vector(7) },
        { "softmax", Shape.Vector(7) },
    };

    [Theory]
    [MemberData(nameof(Examples))]
    public void Token_and_config_round_trip_and_declarations_match_the_built_layer(string token, Shape input)
    {
        var layer = LayerRegistry.Parse(token);
        Assert.Equal(token, layer.FormatToken());
        var kind = Assert.Single(LayerRegistry.Kinds, k => k.TypeName == layer.TypeName);
        var again = LayerRegistry.Create(layer.TypeName, layer.Config);
        Assert.Equal(layer.GetType(), again.GetType());
        Assert.Equal(layer.Config, again.Config);
        Assert.Equal(token, kind.ParseToken(token)!.FormatToken());

        var declared = layer.DeclareTensors(input);
        using var model = new Sequential(input, seed: 3, threads: 1);
        model.Add(layer);
        Assert.Equal(model.ParameterCount + model.NonTrainableParameterCount, declared.Sum(d => d.Length));
        var saved = layer.SaveOwnTensors();
        Assert.Equal(declared.Select(d => d.Length), saved.Select(t => t.Length));
    }

    [Fact]
    public void Every_registered_kind_has_one_type_name_and_a_token_form()
    {
        Assert.Equal(LayerRegistry.Kinds.Count, LayerRegistry.Kinds.Select(k => k.TypeName).Distinct().Count());
        Assert.All(LayerRegistry.Kinds, k => Assert.False(string.IsNullOrEmpty(k.TokenForm)));
        // Every kind but the ones with required numbers is covered by the examples above.
        var covered = Examples.Select(e => LayerRegistry.Parse((string)e[0]).TypeName).ToHashSet();
        Assert.All(LayerRegistry.Kinds, k => Assert.Contains(k.TypeName, covered));
    }

    [Fact]
    public void Save_and_load_own_tensors_round_trip_in_PyTorch_layouts()
    {
        using var model = new Sequential(Shape.Image(5, 5, 2), seed: 11, threads: 1);
        var conv = new Conv2D(3, 2);
        model.Add(conv).Add(new BatchNormalization()).Add(new Flatten()).Add(new Dense(4));
        var dense = (Dense)model.Layers[3];
        // Conv2D weight [out, in, kh, kw] from the kernel [kh, kw, in, out]; Dense weight [out, in] from [in, out].
        var convWeight = conv.SaveOwnTensors()[0];
        Assert.Equal(conv.Kernel.Value[((1 * 2 + 0) * 2 + 1) * 3 + 2], convWeight[((2 * 2 + 1) * 2 + 1) * 2 + 0]);
        var denseWeight = dense.SaveOwnTensors()[0];
        Assert.Equal(dense.Kernel.Value[5 * 4 + 3], denseWeight[3 * dense.InputShape.Size + 5]);

        using var copy = new Sequential(Shape.Image(5, 5, 2), seed: 12, threads: 1);
        copy.Add(new Conv2D(3, 2)).Add(new BatchNormalization()).Add(new Flatten()).Add(new Dense(4));
        ((BatchNormalization)model.Layers[1]).MovingMean[1] = 0.5f;
        for (int i = 0; i < model.Layers.Count; i++)
        {
            copy.Layers[i].LoadOwnTensors(model.Layers[i].SaveOwnTensors());
        }
        Assert.Equal(model.GetWeights(), copy.GetWeights());
    }

    [Fact]
    public void Fusion_is_planned_when_layers_are_added_not_per_batch()
    {
        using var model = new Sequential(Shape.Image(8, 8, 1), seed: 1, threads: 1);
        model.Add(new Conv2D(2, 3)).Add(new ReLU()).Add(new MaxPooling2D(2)).Add(new Flatten()).Add(new Dense(4));
        var conv = (Conv2D)model.Layers[0];
        var relu = (ReLU)model.Layers[1];
        var pool = (MaxPooling2D)model.Layers[2];
        var dense = (Dense)model.Layers[4];
        Assert.True(conv.FuseRelu && relu.InputIsRectified && relu.GradientIsRectified && pool.RectifyGradient);
        Assert.False(dense.FuseRelu);
        model.Add(new ReLU());
        Assert.True(dense.FuseRelu);
        model.FusionEnabled = false;
        Assert.False(conv.FuseRelu || relu.InputIsRectified || relu.GradientIsRectified || pool.RectifyGradient || dense.FuseRelu);
    }

    [Fact]
    public void Spec_format_joins_the_layers_that_say_so()
    {
        var layers = ArchitectureSpec.Parse("conv8k3-relu-bn,maxpool2,flatten,dense10-softmax");
        Assert.Equal("conv8k3-relu-bn,maxpool2,flatten,dense10-softmax", ArchitectureSpec.Format(layers));
        Assert.Equal([false, true, true, false, false, false, true], layers.Select(l => l.JoinsPreviousToken));
    }
}
