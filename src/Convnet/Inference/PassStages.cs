using Convnet.Kernels;
using Convnet.Tensors;

namespace Convnet.Inference;

// Stages that are one pass over their input: a layer that no stage before it took in.

/// <summary>ReLU on its own, in place.</summary>
internal sealed class ReluStage(string name, Shape shape) : InferenceStage(name, shape)
{
    public override bool InPlace => true;

    public override void Run(Span<float> x, int count, Span<float> y, InferenceWorkspace ws) => Elementwise.Map<ReluOperator>(x, x);
}

/// <summary>A per-channel x·scale + shift on its own (BatchNormalization at inference), in place.</summary>
internal sealed class AffineStage(float[] scale, float[] shift, string name, Shape shape) : InferenceStage(name, shape)
{
    public override bool InPlace => true;

    public override void Run(Span<float> x, int count, Span<float> y, InferenceWorkspace ws) => InferencePasses.Affine(x, scale, shift, scale.Length);
}

/// <summary>A "valid" max pool on its own, without the argmax training keeps.</summary>
internal sealed class MaxPoolStage(int poolSize, int stride, Shape input, Shape output, string name) : InferenceStage(name, output)
{
    private readonly ConvGeometry _g = ConvGeometry.Create(input.Height, input.Width, input.Channels, poolSize, stride, same: false);

    public override void Run(Span<float> x, int count, Span<float> y, InferenceWorkspace ws)
    {
        int inSize = _g.Height * _g.Width * _g.Channels, outSize = Output.Size;
        for (int n = 0; n < count; n++)
        {
            InferencePasses.MaxPool(x.Slice(n * inSize, inSize), _g, y.Slice(n * outSize, outSize));
        }
    }
}

/// <summary>A Flatten no product took in: (H, W, C) → (C, H, W) as the layer does.</summary>
internal sealed class FlattenStage(Shape image, Shape output, string name) : InferenceStage(name, output)
{
    public override void Run(Span<float> x, int count, Span<float> y, InferenceWorkspace ws)
    {
        int hw = image.Height * image.Width, c = image.Channels, size = image.Size;
        for (int n = 0; n < count; n++)
        {
            for (int p = 0; p < hw; p++)
            {
                for (int ch = 0; ch < c; ch++)
                {
                    y[n * size + ch * hw + p] = x[n * size + p * c + ch];
                }
            }
        }
    }
}

/// <summary>Softmax over each sample's vector.</summary>
internal sealed class SoftmaxStage(string name, Shape shape) : InferenceStage(name, shape)
{
    public override void Run(Span<float> x, int count, Span<float> y, InferenceWorkspace ws) => Kernels.Softmax.Forward(x, count, Output.Size, y);
}
