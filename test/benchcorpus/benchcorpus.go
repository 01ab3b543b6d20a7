// Package benchcorpus generates realistic manifests for benchmarks and scale
// tests: about 60-line workload manifests of every evaluated kind, with the
// Services their StatefulSets name, so that every cross-object rule runs.
package benchcorpus

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// deployment is a typical Helm-rendered Deployment of about 60 lines.
const deployment = `---
# Source: shop/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web-%[1]d
  namespace: shop-%[2]d
  labels:
    app.kubernetes.io/name: web-%[1]d
    app.kubernetes.io/instance: shop
    app.kubernetes.io/managed-by: Helm
    helm.sh/chart: shop-1.2.3
  annotations:
    deployment.kubernetes.io/revision: "3"
spec:
  replicas: 3
  revisionHistoryLimit: 10
  selector:
    matchLabels:
      app.kubernetes.io/name: web-%[1]d
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 25%%
      maxUnavailable: 0
  template:
    metadata:
      labels:
        app.kubernetes.io/name: web-%[1]d
        app.kubernetes.io/instance: shop
    spec:
      serviceAccountName: web
      affinity:
        podAntiAffinity:
          preferredDuringSchedulingIgnoredDuringExecution:
            - weight: 100
              podAffinityTerm:
                topologyKey: kubernetes.io/hostname
                labelSelector:
                  matchLabels:
                    app.kubernetes.io/name: web-%[1]d
      containers:
        - name: web
          image: "registry.example.com/shop/web:1.29.%[1]d"
          imagePullPolicy: IfNotPresent
          args: ["--port=8080", "--log-level=info"]
          ports:
            - name: http
              containerPort: 8080
              protocol: TCP
          env:
            - name: GOMAXPROCS
              value: "2"
          readinessProbe:
            httpGet:
              path: /healthz
              port: http
          resources:
            requests:
              cpu: 100m
              memory: 64Mi
            limits:
              memory: 128Mi
`

// statefulSet is a StatefulSet with its headless Service.
const statefulSet = `---
apiVersion: v1
kind: Service
metadata:
  name: redis-%[1]d
  namespace: shop-%[2]d
  labels:
    app.kubernetes.io/name: redis-%[1]d
spec:
  clusterIP: None
  selector:
    app.kubernetes.io/name: redis-%[1]d
  ports:
    - name: redis
      port: 6379
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: redis-%[1]d
  namespace: shop-%[2]d
  labels:
    app.kubernetes.io/name: redis-%[1]d
spec:
  serviceName: redis-%[1]d
  replicas: 3
  selector:
    matchLabels:
      app.kubernetes.io/name: redis-%[1]d
  template:
    metadata:
      labels:
        app.kubernetes.io/name: redis-%[1]d
    spec:
      tolerations:
        - key: dedicated
          operator: Equal
          value: cache
          effect: NoSchedule
      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            - topologyKey: kubernetes.io/hostname
              labelSelector:
                matchLabels:
                  app.kubernetes.io/name: redis-%[1]d
      containers:
        - name: redis
          image: redis:8.2.1
          args: ["--appendonly", "yes"]
          ports:
            - name: redis
              containerPort: 6379
          volumeMounts:
            - name: data
              mountPath: /data
  volumeClaimTemplates:
    - metadata:
        name: data
      spec:
        accessModes: ["ReadWriteOnce"]
        resources:
          requests:
            storage: 1Gi
`

// daemonSet is an agent DaemonSet that lacks the control-plane
// tolerations, so that agent-tolerations reports a Mutate finding.
const daemonSet = `---
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: agent-%[1]d
  namespace: monitoring-%[2]d
  labels:
    setwarden.dev/agent: "true"
    app.kubernetes.io/name: agent-%[1]d
spec:
  selector:
    matchLabels:
      app.kubernetes.io/name: agent-%[1]d
  updateStrategy:
    type: RollingUpdate
    rollingUpdate:
      maxUnavailable: 1
  template:
    metadata:
      labels:
        app.kubernetes.io/name: agent-%[1]d
    spec:
      hostNetwork: true
      hostPID: true
      nodeSelector:
        kubernetes.io/os: linux
      tolerations:
        - key: node.kubernetes.io/not-ready
          operator: Exists
          effect: NoExecute
      containers:
        - name: exporter
          image: quay.io/prometheus/node-exporter:v1.9.1
          args:
            - --path.rootfs=/host
            - --web.listen-address=:9100
          ports:
            - name: metrics
              containerPort: 9100
          securityContext:
            readOnlyRootFilesystem: true
            runAsNonRoot: true
            runAsUser: 65534
          resources:
            requests:
              cpu: 10m
              memory: 32Mi
          volumeMounts:
            - name: root
              mountPath: /host
              readOnly: true
      volumes:
        - name: root
          hostPath:
            path: /
`

// Write writes a stream of objects manifests to w: for every 10 objects, 6
// Deployments, a StatefulSet with its Service (2 objects) and 2 DaemonSets.
func Write(w io.Writer, objects int) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	for i := 0; i < objects; {
		var tmpl string
		switch i % 10 {
		case 6:
			tmpl, i = statefulSet, i+2
		case 8, 9:
			tmpl, i = daemonSet, i+1
		default:
			tmpl, i = deployment, i+1
		}
		if _, err := fmt.Fprintf(bw, tmpl, i, i%50); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// WriteFiles writes objects manifests to dir as files of perFile objects
// each, and returns the number of files written.
func WriteFiles(dir string, objects, perFile int) (int, error) {
	files := 0
	for done := 0; done < objects; done += perFile {
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("bundle-%05d.yaml", files)))
		if err != nil {
			return files, err
		}
		err = Write(f, min(perFile, objects-done))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return files, err
		}
		files++
	}
	return files, nil
}
