namespace Convnet.Optimizers;

/// <summary>
/// Adam with decoupled weight decay (Loshchilov and Hutter, 2019), as Keras's AdamW:
/// w ← w − lr·(m̂/(√v̂ + ε) + λ·w), defaults lr 1e-3, λ 0.004, β1 0.9, β2 0.999, ε 1e-7.
/// The decay applies to every parameter (biases and γ/β included), as Keras does unless told otherwise.
/// </summary>
public sealed class AdamW(float learningRate = 1e-3f, float weightDecay = 0.004f, float beta1 = 0.9f, float beta2 = 0.999f, float epsilon = 1e-7f, float? clipNorm = null, float? emaMomentum = null)
    : Adam(learningRate, beta1, beta2, epsilon, clipNorm, weightDecay, emaMomentum)
{
    /// <inheritdoc/>
    public override string Name => "adamw";
}
